#!/usr/bin/env node
// Builds the native oneDNN addon with node-gyp against the local Node headers. Without libdnnl the
// package still works on the tfjs 'cpu' backend, so a missing library is a warning, not a failure.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const header = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].find((f) =>
  fs.existsSync(f),
);
if (!header) {
  console.warn(
    "build:native: oneDNN headers not found (apt-get install libdnnl-dev); skipping the native addon, the 'cpu' backend will be used",
  );
  process.exit(0);
}
// Node's own headers ship with the Debian/NodeSource package under <prefix>/include/node; using them avoids
// node-gyp downloading headers (no network here).
const prefix = path.join(path.dirname(process.execPath), '..');
const nodedir = fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))
  ? [`--nodedir=${prefix}`]
  : [];
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const result = spawnSync(process.execPath, [gyp, 'rebuild', ...nodedir, `--jobs=${process.env.JOBS || 2}`], {
  cwd: root,
  stdio: 'inherit',
});
// With oneDNN present a failed compile is a bug in native/, so it fails the build.
process.exit(result.status ?? 1);

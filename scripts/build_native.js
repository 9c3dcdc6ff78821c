#!/usr/bin/env node
// Builds the native oneDNN addon with node-gyp against the local Node headers. Without libdnnl the
// package still works on the tfjs fallback backends, so a missing library is a warning, not a failure.
// Also used by scripts/install.js, which asks `sourceBuildMissing()` before building in a user's project.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const DNNL_HEADERS = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'];

/** Node's own headers (Debian/NodeSource ship them under <prefix>/include/node): no header download. */
function nodeHeadersDir() {
  const prefix = path.join(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** Headers node-gyp downloaded before (its cache), which it uses without downloading again. */
function cachedNodeHeaders() {
  const cache = process.env.XDG_CACHE_HOME || path.join(require('node:os').homedir(), '.cache');
  const dir = path.join(cache, 'node-gyp', process.versions.node, 'include', 'node', 'node_api.h');
  return fs.existsSync(dir);
}

/** node-gyp: the one npm hands to lifecycle scripts, else a project-local one. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) {
    return process.env.npm_config_node_gyp;
  }
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** What a source build lacks here, as install hints; empty when it can run. */
function sourceBuildMissing() {
  const missing = [];
  if (!DNNL_HEADERS.some((f) => fs.existsSync(f))) missing.push('oneDNN headers (libdnnl-dev)');
  if (!onPath(process.env.CXX || 'g++')) missing.push('a C++ compiler (g++)');
  if (!onPath('make')) missing.push('make');
  if (!onPath('python3')) missing.push('python3');
  if (!nodeHeadersDir() && !cachedNodeHeaders()) {
    missing.push(`Node ${process.version} headers (<node prefix>/include/node)`);
  }
  if (!nodeGyp()) missing.push('node-gyp');
  return missing;
}

/** Runs node-gyp rebuild in the package root; the exit status. */
function buildNative() {
  const nodedir = nodeHeadersDir() ? [`--nodedir=${nodeHeadersDir()}`] : [];
  const jobs = `--jobs=${process.env.JOBS || 2}`;
  const result = spawnSync(process.execPath, [nodeGyp(), 'rebuild', ...nodedir, jobs], {
    cwd: root,
    stdio: 'inherit',
  });
  return result.status ?? 1;
}

module.exports = { sourceBuildMissing, buildNative, onPath };

if (require.main === module) {
  const missing = sourceBuildMissing();
  if (missing.some((m) => m.startsWith('oneDNN'))) {
    console.warn(
      'build:native: oneDNN headers not found (apt-get install libdnnl-dev); skipping the native addon, a tfjs fallback backend will be used',
    );
    process.exit(0);
  }
  // In a checkout node-gyp may still download the headers, so only a missing tool stops the build here.
  if (missing.some((m) => !m.startsWith('Node '))) {
    console.error(`build:native: cannot build the addon: missing ${missing.join(', ')}`);
    process.exit(1);
  }
  // binding.gyp adds the MPI collectives addon (native/mpi.cc) only where an MPI compiler wrapper exists.
  const { hasMpi, MPICC } = require('./mpi_flags.js');
  if (!hasMpi()) {
    console.warn(
      `build:native: no MPI compiler wrapper (${MPICC}): skipping the MPI addon; data-parallel training (--distributed) needs it (apt-get install openmpi-bin libopenmpi-dev)`,
    );
  }
  // With oneDNN present a failed compile is a bug in native/, so it fails the build.
  process.exit(buildNative());
}

#!/usr/bin/env node
// npm's `install` step in a user's project. It never fails the install: the prebuilt engine in prebuilds/
// is what normally runs (npm 11 skips dependency install scripts unless approved, so it must work without
// this step); this only builds from source when no shipped binary loads here and a toolchain and oneDNN
// are present, and otherwise says which fallback the package will use. Defining `install` also stops
// npm's implicit `node-gyp rebuild` (for packages with a binding.gyp), which fails without oneDNN.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function say(message) {
  console.log(`inception-net: ${message}`);
}

/** Loads the addon in a child process: a binary that crashes on load must not take the install with it. */
function loads(file) {
  const child = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return child.status === 0
    ? ''
    : child.stderr.trim().split('\n')[0] || `exit ${child.status ?? child.signal}`;
}

function main() {
  // A git checkout builds the addon with `npm run build`; the compiled loader may not exist yet.
  if (fs.existsSync(path.join(root, '.git'))) return;
  const locate = require('../dist/src/backend/addon_locate.js');
  const missingFlags = locate.machineMissingCpuFlags();
  if (missingFlags.length > 0) {
    say(`this CPU lacks ${missingFlags.join(', ')} (x86-64-v3): the tfjs fallback backends will be used`);
    return;
  }
  const failures = [];
  for (const candidate of locate.addonCandidates(root)) {
    let error;
    try {
      locate.checkAddonFiles(candidate);
      error = loads(candidate.file);
    } catch (e) {
      error = e.message;
    }
    if (!error) {
      say(`native oneDNN engine: ${candidate.source} ${path.relative(root, candidate.file)}`);
      return;
    }
    failures.push(`${candidate.source} does not load (${error})`);
  }
  const why = failures.length
    ? failures.join('; ')
    : `no prebuilt engine for ${process.platform}-${process.arch}`;
  const { sourceBuildMissing, buildNative } = require('./build_native.js');
  const missing = sourceBuildMissing();
  if (missing.length > 0) {
    say(`${why}; a source build needs ${missing.join(', ')}: the tfjs fallback backends will be used`);
    return;
  }
  say(`${why}; building the native engine from source`);
  const built = path.join(root, 'build', 'Release', locate.ADDON_FILE);
  const error = buildNative() === 0 ? loads(built) : 'the build failed';
  // An unusable build/ would only be tried and skipped on every load.
  if (error) fs.rmSync(path.join(root, 'build'), { recursive: true, force: true });
  say(
    error ? `source build unusable (${error}): the tfjs fallback backends will be used` : 'built from source',
  );
}

try {
  main();
} catch (error) {
  say(`install check skipped (${error.message.split('\n')[0]}); the package picks its engine when it loads`);
}
process.exit(0);

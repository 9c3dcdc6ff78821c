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

/**
 * Loads the addon in a child process: a binary that crashes on load must not take the install with it.
 * Throws the load error's first line (or how the child died).
 */
function load(file) {
  const script = `try { require(${JSON.stringify(file)}) } catch (e) { process.stderr.write(e.message.split('\\n')[0]); process.exit(1) }`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0) throw new Error(child.stderr.trim() || `exit ${child.status ?? child.signal}`);
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
  // The loader's own choice (same candidates, order and messages), each candidate loaded in a child.
  const lookup = locate.chooseAddon(
    {
      candidates: locate.addonCandidates(root),
      missingFlags,
      inCheckout: false,
      platform: `${process.platform}-${process.arch}`,
      root,
    },
    (candidate) => {
      locate.checkAddonFiles(candidate);
      load(candidate.file);
      return candidate;
    },
  );
  if (lookup.addon) {
    say(`native oneDNN engine: ${lookup.source} ${path.relative(root, lookup.file)}`);
    return;
  }
  const why = lookup.reason;
  const { sourceBuildMissing, buildNative } = require('./build_native.js');
  const missing = sourceBuildMissing();
  if (missing.length > 0) {
    say(`${why}; a source build needs ${missing.join(', ')}: the tfjs fallback backends will be used`);
    return;
  }
  say(`${why}; building the native engine from source`);
  const built = path.join(root, 'build', 'Release', locate.ADDON_FILE);
  let error = 'the build failed';
  if (buildNative() === 0) {
    try {
      load(built);
      error = '';
    } catch (e) {
      error = e.message;
    }
  }
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

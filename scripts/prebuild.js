#!/usr/bin/env node
// Pack-time step (npm's `prepack`): makes prebuilds/linux-x64/, the native engine a fresh install loads
// without a compiler or apt. It holds the addon (named by node-gyp-build's rules: node.napi.glibc.node),
// the shared libraries it needs that a slim Debian image lacks (oneDNN and what oneDNN itself links: the
// OpenMP and OpenCL loaders), each with RUNPATH $ORIGIN so they find one another (RUNPATH is not
// transitive: the addon's own does not serve libdnnl's dependencies), and the licences of what is bundled.
// Needs the addon built (rebuilt here when native/ is newer), patchelf and dpkg. Fails loudly: a tarball
// without its engine would quietly fall back to the slow path on every install.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { onPath } = require('./build_native.js');

const root = path.join(__dirname, '..');
const built = path.join(root, 'build', 'Release', 'inception_onednn.node');
const target = path.join(root, 'prebuilds', 'linux-x64');
const ADDON_NAME = 'node.napi.glibc.node';
/** What every glibc Linux with Node has (Node itself links libstdc++ and libgcc_s): never bundled. */
const SYSTEM = /^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.so/;

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

function run(command, args) {
  return execFileSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
}

/** `soname => path` of the shared libraries `file` loads, as the dynamic loader resolves them now. */
function ldd(file) {
  const libraries = new Map();
  for (const line of run('ldd', [file]).split('\n')) {
    const m = /^\s*(\S+) => (\S+)/.exec(line);
    if (m && m[2] === 'not') fail(`${file}: ${m[1]} not found`);
    if (m) libraries.set(m[1], m[2]);
  }
  return libraries;
}

function newestSource() {
  const sources = fs.readdirSync(path.join(root, 'native')).map((f) => path.join(root, 'native', f));
  return Math.max(...[...sources, path.join(root, 'binding.gyp')].map((f) => fs.statSync(f).mtimeMs));
}

if (`${process.platform}-${process.arch}` !== 'linux-x64') fail('prebuilt binaries are made on linux-x64');
for (const tool of ['patchelf', 'dpkg', 'ldd', 'objdump']) {
  if (!onPath(tool)) {
    fail(
      `${tool} is missing (Debian: apt-get install ${{ ldd: 'libc-bin', objdump: 'binutils' }[tool] ?? tool})`,
    );
  }
}
if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < newestSource()) {
  const build = spawnSync(process.execPath, [path.join(__dirname, 'build_native.js')], { stdio: 'inherit' });
  if (build.status !== 0 || !fs.existsSync(built)) fail('the native addon did not build (see above)');
}

// One binary for AVX2-only and AVX-512 machines: the addon's own code must stay within x86-64-v3 (oneDNN
// picks its AVX-512/AMX kernels at run time). A flag change or a stray pragma would show up here. The one
// exception: native/peak.cc's FMA-peak loops, each compiled for its ISA with a target attribute and called
// only after a run-time CPU check (their names end in the ISA).
const DISPATCHED = /(fp32|bf16|int8)Avx512/;
let inDispatched = false;
const avx512 = run('objdump', ['-d', '--no-show-raw-insn', built])
  .split('\n')
  .filter((line) => {
    const label = /^[0-9a-f]+ <(.+)>:$/.exec(line);
    if (label) inDispatched = DISPATCHED.test(label[1]);
    return !inDispatched && /%zmm|\{%k[0-7]\}/.test(line);
  });
if (avx512.length > 0) fail(`${built} has ${avx512.length} AVX-512 instructions, e.g. ${avx512[0].trim()}`);

fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(path.join(target, 'licenses'), { recursive: true });
const addon = path.join(target, ADDON_NAME);
fs.copyFileSync(built, addon);

// The libraries to bundle: the addon's, then theirs, until nothing new (oneDNN -> OpenMP, OpenCL).
const bundle = new Map();
const queue = [built];
while (queue.length > 0) {
  for (const [soname, file] of ldd(queue.shift())) {
    if (SYSTEM.test(soname) || bundle.has(soname)) continue;
    bundle.set(soname, fs.realpathSync(file));
    queue.push(file);
  }
}
if (![...bundle.keys()].some((s) => s.startsWith('libdnnl.so'))) fail(`${built} does not link libdnnl`);

const origins = [];
for (const [soname, file] of bundle) {
  const copy = path.join(target, soname);
  fs.copyFileSync(file, copy);
  fs.chmodSync(copy, 0o755);
  origins.push(copy);
  const debianPackage = run('dpkg', ['-S', file]).split(':')[0].trim();
  const version = run('dpkg-query', ['-W', '-f=${Version}', debianPackage]).trim();
  const copyright = `/usr/share/doc/${debianPackage}/copyright`;
  if (!fs.existsSync(copyright)) fail(`${copyright} is missing: cannot ship ${soname} without its licence`);
  const text = fs.readFileSync(copyright, 'utf8');
  fs.writeFileSync(
    path.join(target, 'licenses', `${debianPackage}.copyright`),
    `${soname} is ${path.basename(file)} from the Debian package ${debianPackage} ${version}.\n\n${text}`,
  );
  // The common licences the copyright file points to (Apache-2.0 for oneDNN, GPL-3 for GCC's runtime).
  for (const [, name] of text.matchAll(/\/usr\/share\/common-licenses\/([A-Za-z0-9.+-]*[A-Za-z0-9+])/g)) {
    const licence = `/usr/share/common-licenses/${name}`;
    if (fs.existsSync(licence)) fs.copyFileSync(licence, path.join(target, 'licenses', name));
  }
}
for (const file of [addon, ...origins]) run('patchelf', ['--set-rpath', '$ORIGIN', file]);

// Check that each bundled file now resolves its bundled dependencies beside itself, not from the system.
for (const file of [addon, ...origins]) {
  for (const [soname, resolved] of ldd(file)) {
    if (bundle.has(soname) && path.dirname(resolved) !== target) {
      fail(`${path.basename(file)} resolves ${soname} to ${resolved}, not the bundled copy`);
    }
  }
}
const sizes = fs
  .readdirSync(target)
  .filter((f) => f.includes('.so') || f.endsWith('.node'))
  .map((f) => `${f} ${(fs.statSync(path.join(target, f)).size / 2 ** 20).toFixed(1)} MiB`);
console.log(`prebuild: ${path.relative(root, target)}: ${sizes.join(', ')}`);

import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  type AddonCandidate,
  type AddonFacts,
  checkAddonFiles,
  chooseAddon,
  elfProblem,
  findPrebuilt,
  missingCpuFlags,
} from '../src/backend/addon_locate';
import { fallbackWarning } from '../src/backend/select';

const dir = mkdtempSync(join(tmpdir(), 'inception-addon-locate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SOURCE: AddonCandidate = { source: 'source build', file: '/pkg/build/Release/inception_onednn.node' };
const PREBUILT: AddonCandidate = {
  source: 'prebuilt',
  file: '/pkg/prebuilds/linux-x64/node.napi.glibc.node',
};

function facts(overrides: Partial<AddonFacts>): AddonFacts {
  return {
    candidates: [SOURCE, PREBUILT],
    missingFlags: [],
    inCheckout: false,
    platform: 'linux-x64',
    root: '/pkg',
    ...overrides,
  };
}

/** A loader that fails for the files in `broken` with a dlopen-like message. */
function loader(broken: string[]) {
  const tried: string[] = [];
  const load = (candidate: AddonCandidate) => {
    tried.push(candidate.file);
    if (broken.includes(candidate.file)) throw new Error(`${candidate.file}: invalid ELF header\nmore`);
    return { file: candidate.file };
  };
  return { load, tried };
}

/** The first `bytes` bytes of an ELF file that exists on every Linux with Node: node itself. */
function elfPrefix(bytes: number): Buffer {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync(process.execPath, 'r');
  try {
    readSync(fd, buffer, 0, bytes, 0);
  } finally {
    closeSync(fd);
  }
  return buffer;
}

/** A minimal 64-bit little-endian ELF file: its header, one PT_LOAD segment of `segmentBytes` from offset 0. */
function tinyElf(segmentBytes: number, fileBytes = 120): Buffer {
  const elf = Buffer.alloc(fileBytes);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // 64-bit
  elf[5] = 1; // little-endian
  elf.writeBigUInt64LE(64n, 0x20); // program headers right after the header
  elf.writeUInt16LE(56, 0x36);
  elf.writeUInt16LE(1, 0x38);
  elf.writeUInt32LE(1, 64); // PT_LOAD
  elf.writeBigUInt64LE(BigInt(segmentBytes), 64 + 32);
  return elf;
}

test('missingCpuFlags: the x86-64-v3 flags absent from /proc/cpuinfo, none when there is no flags line', () => {
  const haswell = 'processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma f16c bmi1 bmi2 movbe\n';
  assert.deepEqual(missingCpuFlags(haswell), []);
  assert.deepEqual(missingCpuFlags('flags\t\t: fpu sse2 sse4_2 avx\n'), [
    'avx2',
    'fma',
    'f16c',
    'bmi1',
    'bmi2',
  ]);
  assert.deepEqual(missingCpuFlags('Processor\t: AArch64\n'), []);
});

test('a CPU without AVX2 loads nothing (a SIGILL later would be a crash) and says what it lacks', () => {
  const { load, tried } = loader([]);
  const r = chooseAddon(facts({ missingFlags: ['avx2', 'fma'] }), load);
  assert.equal(r.addon, null);
  assert.deepEqual(tried, []);
  assert.match(r.reason, /lacks avx2, fma/);
  assert.match(r.remedy, /AVX2/);
});

test('a source build is tried first; when it does not load the prebuilt is used and the failure kept', () => {
  const { load, tried } = loader([SOURCE.file]);
  const r = chooseAddon(facts({}), load);
  assert.deepEqual(r.addon, { file: PREBUILT.file });
  assert.equal(r.source, 'prebuilt');
  assert.deepEqual(tried, [SOURCE.file, PREBUILT.file]);
  assert.deepEqual(r.skipped, [
    'source build build/Release/inception_onednn.node does not load (invalid ELF header)',
  ]);
  assert.equal(r.reason, '');
});

test('nothing for this platform: the reason names it and the remedy is the npm 11 source build', () => {
  const r = chooseAddon(facts({ candidates: [], platform: 'linux-arm64' }), loader([]).load);
  assert.equal(r.addon, null);
  assert.equal(r.reason, 'no prebuilt native engine for linux-arm64 in this package');
  assert.match(r.remedy, /libdnnl-dev/);
  assert.match(r.remedy, /npm install-scripts approve inception-net && npm rebuild inception-net/);
  const checkout = chooseAddon(facts({ candidates: [], inCheckout: true }), loader([]).load);
  assert.equal(checkout.reason, 'the addon is not built');
  assert.match(checkout.remedy, /npm run build:native/);
});

test('every candidate broken: one reason naming each, and a reinstall remedy', () => {
  const r = chooseAddon(facts({}), loader([SOURCE.file, PREBUILT.file]).load);
  assert.equal(r.addon, null);
  assert.match(
    r.reason,
    /^source build .* does not load \(invalid ELF header\); prebuilt prebuilds\/linux-x64/,
  );
  assert.doesNotMatch(r.reason, /\n/);
  assert.match(r.remedy, /^reinstall inception-net/);
});

test('elfProblem: a truncated shared object is caught before dlopen; whole ELF files and non-ELF files pass', () => {
  const truncated = join(dir, 'truncated.node');
  writeFileSync(truncated, elfPrefix(65536));
  assert.match(elfProblem(truncated) ?? '', /^truncated \(65536 bytes, its headers need \d+\)$/);
  writeFileSync(join(dir, 'stub.node'), elfPrefix(20));
  assert.equal(elfProblem(join(dir, 'stub.node')), 'truncated (20 bytes)');
  assert.equal(elfProblem(process.execPath), null);
  writeFileSync(join(dir, 'whole.node'), tinyElf(120));
  assert.equal(elfProblem(join(dir, 'whole.node')), null);
  writeFileSync(join(dir, 'short.node'), tinyElf(4096));
  assert.equal(elfProblem(join(dir, 'short.node')), 'truncated (120 bytes, its headers need 4096)');
  writeFileSync(join(dir, 'text.node'), 'not an ELF file');
  assert.equal(elfProblem(join(dir, 'text.node')), null);
});

test('findPrebuilt follows node-gyp-build (platform-arch folder, napi tag); checkAddonFiles checks the libraries beside it', () => {
  const folder = join(dir, 'pkg', 'prebuilds', 'linux-x64');
  mkdirSync(join(folder, 'licenses'), { recursive: true });
  const addon = join(folder, 'node.napi.glibc.node');
  writeFileSync(addon, tinyElf(120));
  writeFileSync(join(folder, 'libdnnl.so.2'), tinyElf(4096));
  assert.equal(findPrebuilt(join(dir, 'pkg'), 'linux', 'x64'), addon);
  assert.equal(findPrebuilt(join(dir, 'pkg'), 'linux', 'arm64'), undefined);
  assert.equal(findPrebuilt(join(dir, 'pkg'), 'darwin', 'x64'), undefined);
  assert.throws(
    () => checkAddonFiles({ source: 'prebuilt', file: addon }),
    /^Error: libdnnl\.so\.2 is truncated/,
  );
  // A source build uses the system's libraries: only its own file is checked.
  assert.doesNotThrow(() => checkAddonFiles({ source: 'source build', file: addon }));
});

test('fallbackWarning: one line with the reason, what runs instead and the remedy', () => {
  const wasm = fallbackWarning('wasm', 'no prebuilt native engine for linux-arm64', 'install oneDNN');
  assert.equal(
    wasm,
    "inception-net: native oneDNN engine unavailable: no prebuilt native engine for linux-arm64; using tfjs 'wasm' (inference only; training uses the slow 'cpu'). For the fast engine: install oneDNN",
  );
  assert.match(
    fallbackWarning('cpu', 'r', 'x'),
    /using the slow tfjs 'cpu' backend\. For the fast engine: x$/,
  );
});

// Finding the native addon: a source build (build/Release) first, then the prebuilt binary shipped in
// prebuilds/<platform>-<arch>/ (node-gyp-build's naming and matching rules), each loaded only if the CPU
// can run it. Pure decisions over injected facts, so the fallback logic is testable without packing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ADDON_FILE = 'inception_onednn.node';
/** The MPI collectives addon (native/mpi.cc): source builds only, since it links the machine's own MPI. */
export const MPI_ADDON_FILE = 'inception_mpi.node';

export type AddonSource = 'source build' | 'prebuilt';

export interface AddonCandidate {
  source: AddonSource;
  file: string;
}

/** What looking for the addon found: the module and where it came from, or why not and what would help. */
export interface AddonLookup<T> {
  addon: T | null;
  source?: AddonSource;
  file?: string;
  /** Empty when loaded; else what is missing or broken, one line. */
  reason: string;
  /** Empty when loaded; else how to get the native engine, one line. */
  remedy: string;
  /** Candidates that failed before the one that loaded (a stale source build, say), one line each. */
  skipped: string[];
}

/**
 * The x86-64-v3 features binding.gyp compiles for (-march=x86-64-v3) that /proc/cpuinfo reliably lists.
 * Without them the addon would die of SIGILL on its first kernel instead of failing to load. LZCNT (`abm`)
 * and MOVBE are left out: hypervisors often hide those flags, and every CPU with AVX2 has both.
 */
export const REQUIRED_CPU_FLAGS = ['avx', 'avx2', 'fma', 'f16c', 'bmi1', 'bmi2'];

/** The required flags the CPU lacks, from /proc/cpuinfo's text; none when the text has no flags line. */
export function missingCpuFlags(cpuinfo: string): string[] {
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo);
  if (!line) return [];
  const present = new Set(line[1].trim().split(/\s+/));
  return REQUIRED_CPU_FLAGS.filter((flag) => !present.has(flag));
}

/** The required flags this machine's CPU lacks (x64 Linux only: elsewhere nothing says, and nothing ships). */
export function machineMissingCpuFlags(): string[] {
  if (os.arch() !== 'x64' || os.platform() !== 'linux') return [];
  try {
    return missingCpuFlags(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return [];
  }
}

interface Tuple {
  name: string;
}
interface Tags {
  file: string;
}
/** The matching rules node-gyp-build exposes (it ships no types). */
interface NodeGypBuild {
  parseTuple(name: string): Tuple | undefined;
  matchTuple(platform: string, arch: string): (tuple: Tuple | undefined) => boolean;
  compareTuples(a: Tuple, b: Tuple): number;
  parseTags(file: string): Tags | undefined;
  matchTags(runtime: string, abi: string): (tags: Tags | undefined) => boolean;
  compareTags(runtime: string): (a: Tags, b: Tags) => number;
}

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The prebuilt binary node-gyp-build would pick for this platform, arch and libc (its own parse/match/sort
 * rules), but without its preference for build/: a broken source build must not hide a good prebuilt.
 */
export function findPrebuilt(root: string, platform = os.platform(), arch = os.arch()): string | undefined {
  const gyp = require('node-gyp-build') as NodeGypBuild;
  const prebuilds = path.join(root, 'prebuilds');
  const tuple = list(prebuilds)
    .map(gyp.parseTuple)
    .filter(gyp.matchTuple(platform, arch))
    .sort((a, b) => gyp.compareTuples(a as Tuple, b as Tuple))[0];
  if (!tuple) return undefined;
  const folder = path.join(prebuilds, tuple.name);
  const winner = list(folder)
    .map(gyp.parseTags)
    .filter(gyp.matchTags('node', process.versions.modules))
    .sort((a, b) => gyp.compareTags('node')(a as Tags, b as Tags))[0];
  return winner && path.join(folder, winner.file);
}

/** The addon files present under the package root, in the order to try them. */
export function addonCandidates(root: string): AddonCandidate[] {
  const candidates: AddonCandidate[] = [];
  const built = path.join(root, 'build', 'Release', ADDON_FILE);
  if (fs.existsSync(built)) candidates.push({ source: 'source build', file: built });
  const prebuilt = findPrebuilt(root);
  if (prebuilt) candidates.push({ source: 'prebuilt', file: prebuilt });
  return candidates;
}

/**
 * The MPI addon under the package root: a source build only. The npm tarball ships no prebuilt of it: an
 * MPI library must match the launcher (mpirun, srun's PMIx) of the machine it runs on, so it is built
 * there, against that MPI, by `npm run build:native`.
 */
export function mpiAddonCandidates(root: string): AddonCandidate[] {
  const built = path.join(root, 'build', 'Release', MPI_ADDON_FILE);
  return fs.existsSync(built) ? [{ source: 'source build', file: built }] : [];
}

/** How to get the MPI addon: an MPI with its compiler wrapper, then a source build. */
export function mpiBuildRemedy(inCheckout: boolean): string {
  const deps = 'an MPI with its compiler wrapper mpicc (Debian: apt-get install openmpi-bin libopenmpi-dev)';
  return inCheckout
    ? `install ${deps}, then run \`npm run build:native\``
    : `install ${deps}, then build it where the package is installed: \`cd node_modules/inception-net && npx node-gyp rebuild\``;
}

/**
 * Why a 64-bit little-endian ELF file cannot be mapped whole, or null when it can (or is not such a file:
 * dlopen then gives its own error). A truncated shared object loads far enough to crash the process with
 * SIGBUS when the loader touches the missing pages, so an interrupted download or copy is caught here, as an
 * error, before dlopen. Reads only the headers.
 */
export function elfProblem(file: string): string | null {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const header = Buffer.alloc(64);
    const got = fs.readSync(fd, header, 0, 64, 0);
    if (got < 4 || header.readUInt32BE(0) !== 0x7f454c46) return null;
    if (got < 64 || header[4] !== 2 || header[5] !== 1) return got < 64 ? `truncated (${size} bytes)` : null;
    const phoff = Number(header.readBigUInt64LE(0x20));
    const shoff = Number(header.readBigUInt64LE(0x28));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    let needed = Math.max(
      phoff + phentsize * phnum,
      shoff + header.readUInt16LE(0x3a) * header.readUInt16LE(0x3c),
    );
    if (needed <= size) {
      const table = Buffer.alloc(phentsize * phnum);
      fs.readSync(fd, table, 0, table.length, phoff);
      for (let i = 0; i < phnum; i++) {
        const entry = i * phentsize;
        // p_offset + p_filesz of every segment the loader maps (PT_LOAD = 1).
        if (table.readUInt32LE(entry) !== 1) continue;
        const end = Number(table.readBigUInt64LE(entry + 8) + table.readBigUInt64LE(entry + 32));
        needed = Math.max(needed, end);
      }
    }
    return needed > size ? `truncated (${size} bytes, its headers need ${needed})` : null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The first problem of the addon file or of the shared libraries bundled beside it, as an Error. */
export function checkAddonFiles(candidate: AddonCandidate): void {
  const dir = path.dirname(candidate.file);
  const bundled =
    candidate.source === 'prebuilt'
      ? list(dir)
          .filter((f) => /\.so(\.\d+)*$/.test(f))
          .map((f) => path.join(dir, f))
      : [];
  for (const file of [candidate.file, ...bundled]) {
    const problem = elfProblem(file);
    if (problem) throw new Error(`${path.basename(file)} is ${problem}`);
  }
}

/** How to build the addon: from a git checkout, or inside a project that installed the package (npm 11). */
export function buildRemedy(inCheckout: boolean): string {
  const deps = 'oneDNN and a C++ toolchain (Debian: apt-get install libdnnl-dev g++ make python3)';
  return inCheckout
    ? `install ${deps}, then run \`npm run build:native\``
    : `install ${deps}, then \`npm install-scripts approve inception-net && npm rebuild inception-net\``;
}

export interface AddonFacts {
  candidates: AddonCandidate[];
  /** Required CPU flags this CPU lacks. */
  missingFlags: string[];
  /** True in a git checkout (build with npm run build:native), false in an installed package. */
  inCheckout: boolean;
  /** Shown in "no native engine for ..." when nothing fits. */
  platform: string;
  /** Paths in messages are relative to this. */
  root: string;
}

/**
 * Loads the first candidate that loads, or says why none did. `load` is checkAddonFiles then `require`
 * outside tests; what it throws is the candidate's failure.
 */
export function chooseAddon<T>(facts: AddonFacts, load: (candidate: AddonCandidate) => T): AddonLookup<T> {
  const none = { addon: null, skipped: [] };
  if (facts.missingFlags.length > 0) {
    return {
      ...none,
      reason: `this CPU lacks ${facts.missingFlags.join(', ')}, which the native engine is compiled for (x86-64-v3: AVX2, FMA)`,
      remedy: 'run on an AVX2 (x86-64-v3) CPU',
    };
  }
  if (facts.candidates.length === 0) {
    return {
      ...none,
      reason: facts.inCheckout
        ? 'the addon is not built'
        : `no prebuilt native engine for ${facts.platform} in this package`,
      remedy: buildRemedy(facts.inCheckout),
    };
  }
  const failures: string[] = [];
  for (const candidate of facts.candidates) {
    try {
      const addon = load(candidate);
      return {
        addon,
        source: candidate.source,
        file: candidate.file,
        reason: '',
        remedy: '',
        skipped: failures,
      };
    } catch (error) {
      // dlopen's messages start with the file's path, which the line already names.
      const message = (error as Error).message.split('\n')[0].replace(`${candidate.file}: `, '');
      failures.push(
        `${candidate.source} ${path.relative(facts.root, candidate.file)} does not load (${message})`,
      );
    }
  }
  return {
    ...none,
    reason: failures.join('; '),
    remedy: facts.inCheckout
      ? buildRemedy(true)
      : `reinstall inception-net, or build it here: ${buildRemedy(false)}`,
  };
}

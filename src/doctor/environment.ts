// What `inception doctor` reports (what torch.utils.collect_env is to PyTorch): the engine in use and why,
// where its native code came from, what oneDNN dispatches to, and the folders the package uses.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { addonLookup, loadAddon } from '../backend/addon';
import { machineMissingCpuFlags } from '../backend/addon_locate';
import { mpiAddonLookup } from '../backend/mpi_addon';
import { bf16Unavailable } from '../backend/precision';
import { type BackendChoice, chooseBackend } from '../backend/select';
import { cacheDir } from '../io/cache_dir';
import { packageRoot, packageVersion } from '../io/package_root';
import { PRETRAINED, pretrainedFolder } from '../models/pretrained';

export interface EnvironmentReport {
  package: { version: string; root: string };
  backend: BackendChoice & {
    /** For a fallback: what library imports and training commands use, and what inference commands use. */
    fallbacks?: { training: 'cpu'; inference: 'wasm' };
  };
  addon: {
    loaded: boolean;
    /** `prebuilt` (shipped in prebuilds/) or `source build` (build/Release). */
    source: string | null;
    file: string | null;
    /** Candidates that did not load before the one that did. */
    skipped: string[];
    onednnVersion: string | null;
    /** The instruction set oneDNN's kernels dispatch to on this CPU. */
    cpuIsa: string | null;
    /** The precisions the planned path and training can use here; why bf16 cannot, when it cannot. */
    precisions: { available: string[]; bf16Unavailable: string | null } | null;
    threads: number | null;
    /** The shared libraries actually mapped into this process (from /proc/self/maps). */
    libraries: { libdnnl: string | null; libgomp: string | null };
    /** True when the mapped libdnnl is the copy shipped beside the prebuilt addon. */
    bundledOneDnn: boolean;
  };
  /** The MPI collectives addon (data-parallel training): the MPI it links, or why it is missing. */
  mpi: { loaded: boolean; file: string | null; library: string | null; reason: string; remedy: string };
  cpu: { model: string; cores: number; missingFlags: string[] };
  versions: { node: string; tfjs: string; glibc: string | null };
  platform: string;
  folders: { models: Record<string, string>; cache: string };
  env: Record<string, string>;
}

export { cacheDir };

/** Paths of mapped files whose name starts with `prefix` (e.g. `libdnnl.so`), from a /proc/PID/maps text. */
export function mappedLibraries(maps: string, prefix: string): string[] {
  const found = new Set<string>();
  for (const line of maps.split('\n')) {
    const file = line.trim().split(/\s+/).slice(5).join(' ');
    if (file.startsWith('/') && path.basename(file).startsWith(prefix)) found.add(file);
  }
  return [...found];
}

function readMaps(): string {
  try {
    return fs.readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return '';
  }
}

const ENV_VARS = [
  'INCEPTION_BACKEND',
  'INCEPTION_HOME',
  'OMP_NUM_THREADS',
  'GOMP_SPINCOUNT',
  'OMP_WAIT_POLICY',
  'DNNL_MAX_CPU_ISA',
];

/** Everything doctor prints; selects the engine first if nothing has (as a library import would). */
export async function collectEnvironment(): Promise<EnvironmentReport> {
  const choice = await chooseBackend();
  const lookup = addonLookup();
  const addon = loadAddon();
  const maps = readMaps();
  const libdnnl = mappedLibraries(maps, 'libdnnl.so')[0] ?? null;
  const libgomp = mappedLibraries(maps, 'libgomp.so')[0] ?? null;
  const models: Record<string, string> = {};
  for (const name of Object.keys(PRETRAINED)) {
    try {
      models[name] = pretrainedFolder(name);
    } catch (e) {
      models[name] = `missing: ${(e as Error).message}`;
    }
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
    ?.header;
  const cpus = os.cpus();
  const mpi = mpiAddonLookup();
  return {
    package: { version: packageVersion(), root: packageRoot() },
    backend: {
      ...choice,
      ...(choice.how === 'fallback' ? { fallbacks: { training: 'cpu', inference: 'wasm' } } : {}),
    },
    addon: {
      loaded: addon !== null,
      source: lookup.source ?? null,
      file: lookup.file ?? null,
      skipped: lookup.skipped,
      onednnVersion: addon?.dnnlVersion ?? null,
      cpuIsa: addon?.cpuIsa ?? null,
      precisions: addon
        ? {
            available: bf16Unavailable(addon.cpuIsa) ? ['fp32', 'int8'] : ['fp32', 'bf16', 'int8'],
            bf16Unavailable: bf16Unavailable(addon.cpuIsa),
          }
        : null,
      threads: addon ? addon.numThreads() : null,
      libraries: { libdnnl, libgomp },
      bundledOneDnn:
        libdnnl !== null &&
        lookup.file !== undefined &&
        path.dirname(libdnnl) === path.dirname(fs.realpathSync(lookup.file)),
    },
    mpi: {
      loaded: mpi.addon !== null,
      file: mpi.file ?? null,
      library: mpi.addon?.mpiLibrary ?? null,
      reason: mpi.reason,
      remedy: mpi.remedy,
    },
    cpu: { model: cpus[0]?.model ?? 'unknown', cores: cpus.length, missingFlags: machineMissingCpuFlags() },
    versions: { node: process.version, tfjs: tf.version.tfjs, glibc: header?.glibcVersionRuntime ?? null },
    platform: `${process.platform}-${process.arch}`,
    folders: { models, cache: cacheDir() },
    env: Object.fromEntries(
      ENV_VARS.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k] as string]),
    ),
  };
}

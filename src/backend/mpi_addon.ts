import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../io/package_root';
import {
  type AddonLookup,
  checkAddonFiles,
  chooseAddon,
  MPI_ADDON_FILE,
  mpiAddonCandidates,
  mpiBuildRemedy,
} from './addon_locate';

/** What init() reports: this rank in the world and on its node, and how its CPUs are shared. */
export interface MpiWorld {
  rank: number;
  size: number;
  /** Rank among the ranks on this node (MPI_Comm_split_type SHARED), and their number. */
  localRank: number;
  localSize: number;
  /** CPUs in this process's affinity mask (0 where the OS does not say). */
  affinityCpus: number;
  /** Ranks on this node whose affinity masks overlap this one's, this rank included. */
  ranksSharingCpus: number;
}

/**
 * The MPI collectives addon (native/mpi.cc). Collectives run in call order on one native thread and
 * resolve when done on this rank; `arrivals()` says, per rank, the number of the last collective it was
 * seen to reach (rank 0 hears from every rank, the others from rank 0; -1 where not tracked).
 */
export interface MpiAddon {
  readonly mpiLibrary: string;
  /** The MPI standard version the library implements, "3.1". */
  readonly mpiStandard: string;
  /** Each function's arguments, "name:kind", as the addon checks them. */
  readonly layouts: Record<string, string[]>;
  init(): MpiWorld;
  broadcast(buffer: ArrayBufferView, root: number): Promise<void>;
  allreduceSum(buffer: Float32Array | Float64Array): Promise<void>;
  barrier(): Promise<void>;
  arrivals(): number[];
  abort(code: number): never;
  finalize(): void;
}

/** The argument layouts this side calls the addon with: the addon's own `layouts` must say the same. */
export const MPI_LAYOUTS: Record<keyof Omit<MpiAddon, 'mpiLibrary' | 'mpiStandard' | 'layouts'>, string[]> = {
  init: [],
  broadcast: ['buffer:buffer', 'root:int'],
  allreduceSum: ['buffer:float'],
  barrier: [],
  arrivals: [],
  abort: ['code:int'],
  finalize: [],
};

let lookup: AddonLookup<MpiAddon> | undefined;

/** The MPI addon, or why it is missing and how to get it (a source build; no prebuilt ships). */
export function mpiAddonLookup(): AddonLookup<MpiAddon> {
  if (lookup) return lookup;
  const root = packageRoot();
  const inCheckout = fs.existsSync(path.join(root, '.git'));
  const candidates = mpiAddonCandidates(root);
  const found = chooseAddon<MpiAddon>(
    {
      candidates,
      missingFlags: [],
      inCheckout,
      platform: `${process.platform}-${process.arch}`,
      root,
    },
    (candidate) => {
      checkAddonFiles(candidate);
      return require(candidate.file) as MpiAddon;
    },
  );
  lookup = found.addon
    ? found
    : {
        ...found,
        reason: candidates.length === 0 ? `the MPI addon (${MPI_ADDON_FILE}) is not built` : found.reason,
        remedy: mpiBuildRemedy(inCheckout),
      };
  return lookup;
}

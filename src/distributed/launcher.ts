// Which launcher started this process, from the environment it left, and how many ranks it meant to start:
// the MPI library's own world must agree, or the addon is talking to another MPI than the launcher's (a
// job of N singletons that would each train alone).

export type LauncherName = 'mpirun' | 'kubeflow-mpijob' | 'mpich' | 'srun' | 'none';

export interface Launch {
  launcher: LauncherName;
  /** Ranks the launcher started, or null when none did (a plain `node` or `inception` run). */
  size: number | null;
  /** This process's rank according to the launcher, or null. */
  rank: number | null;
  /** For srun: whether a PMI/PMIx server was asked for (`--mpi=pmix`); MPI cannot wire up without one. */
  pmi: boolean;
}

type Env = Record<string, string | undefined>;

function count(value: string | undefined): number | null {
  if (value === undefined || !/^\d+$/.test(value.trim())) return null;
  return Number(value);
}

/**
 * A Kubeflow MPIJob runs mpirun in its launcher pod, which starts the workers' ranks over its rsh agent
 * (kubexec.sh) with the hostfile it mounts; the ranks see Open MPI's environment plus these hints.
 */
function kubeflowHints(env: Env): boolean {
  const agent = env.OMPI_MCA_plm_rsh_agent ?? '';
  const hostfile = env.OMPI_MCA_orte_default_hostfile ?? '';
  return agent.includes('kubexec') || hostfile.startsWith('/etc/mpi/') || env.K_MPI_JOB_ROLE !== undefined;
}

/** The launcher that started this process, read from its environment (process.env by default). */
export function detectLauncher(env: Env = process.env): Launch {
  const ompiSize = count(env.OMPI_COMM_WORLD_SIZE);
  if (ompiSize !== null) {
    return {
      launcher: kubeflowHints(env) ? 'kubeflow-mpijob' : 'mpirun',
      size: ompiSize,
      rank: count(env.OMPI_COMM_WORLD_RANK),
      pmi: true,
    };
  }
  // MPICH's and Intel MPI's Hydra (mpiexec), and Kubeflow MPIJobs built on them.
  const pmiSize = count(env.PMI_SIZE);
  if (pmiSize !== null && env.SLURM_STEP_ID === undefined) {
    return { launcher: 'mpich', size: pmiSize, rank: count(env.PMI_RANK), pmi: true };
  }
  const slurmSize = count(env.SLURM_STEP_NUM_TASKS) ?? count(env.SLURM_NTASKS);
  if (slurmSize !== null && env.SLURM_PROCID !== undefined) {
    return {
      launcher: 'srun',
      size: slurmSize,
      rank: count(env.SLURM_PROCID),
      pmi: env.PMIX_RANK !== undefined || env.PMI_RANK !== undefined || env.PMI_FD !== undefined,
    };
  }
  return { launcher: 'none', size: null, rank: null, pmi: false };
}

/**
 * Why this launch and the MPI library's world disagree, one line, or null when they agree. `library`
 * names the MPI the addon is linked against.
 */
export function worldMismatch(launch: Launch, mpiSize: number, library: string): string | null {
  if (launch.size === null || launch.size === mpiSize) return null;
  if (launch.launcher === 'srun' && !launch.pmi) {
    return `srun started ${launch.size} tasks without a PMI server, so each is an MPI world of ${mpiSize}: run srun --mpi=pmix`;
  }
  const by = launch.launcher === 'kubeflow-mpijob' ? 'the MPIJob launcher (mpirun)' : launch.launcher;
  return (
    `${by} started ${launch.size} ranks but MPI reports a world of ${mpiSize}: the MPI addon is linked ` +
    `against ${library}, which is not the launcher's MPI; rebuild it against the launcher's (npm run build:native ` +
    "with that MPI's mpicc first on PATH, or MPICC=/path/to/mpicc)"
  );
}

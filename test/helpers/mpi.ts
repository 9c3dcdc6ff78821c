// Running the CLI under Open MPI in tests: why the MPI tests skip, and the mpirun prefix they use.
import { spawnSync } from 'node:child_process';
import { mpiAddonLookup } from '../../src/backend/mpi_addon';

/** Why tests over mpirun cannot run here (printed as the skip reason), or false when they can. */
export function mpiSkipReason(): string | false {
  if (spawnSync('sh', ['-c', 'command -v mpirun'], { stdio: 'ignore' }).status !== 0) {
    return 'mpirun not found (apt-get install openmpi-bin libopenmpi-dev)';
  }
  const lookup = mpiAddonLookup();
  return lookup.addon ? false : `${lookup.reason}; ${lookup.remedy}`;
}

/** `mpirun` options for tests: root allowed (CI containers), more ranks than cores, OMP_NUM_THREADS passed on. */
export function mpirunOptions(): string[] {
  const root = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--allow-run-as-root'] : [];
  return [
    ...root,
    '--oversubscribe',
    '--bind-to',
    'none',
    '-x',
    'OMP_NUM_THREADS',
    '-x',
    'INCEPTION_BACKEND',
  ];
}

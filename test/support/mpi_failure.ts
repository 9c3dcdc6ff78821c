// Run under `mpirun -np 2` by test/distributed_mpi.test.ts: both ranks allreduce once per "step"; at step 2
// rank argv[4] (default 1) misbehaves as argv[2] says (exit, throw, kill, stall) and the job must end
// non-zero, naming that rank, within a few collective timeouts (argv[3] seconds). `ok` is the control: both
// ranks finish and exit 0.
import { initCollective } from '../../src/distributed/collective';

const failure = process.argv[2];
const timeoutSeconds = Number(process.argv[3] ?? 2);
const culprit = Number(process.argv[4] ?? 1);

async function main(): Promise<void> {
  const collective = initCollective({ timeoutSeconds, setThreads: false });
  const buffer = new Float64Array(1024);
  for (let step = 0; step < 5; step++) {
    collective.step = `step ${step}`;
    if (collective.rank === culprit && step === 2) {
      if (failure === 'exit') process.exit(3);
      if (failure === 'throw') throw new Error('injected failure');
      if (failure === 'kill') process.kill(process.pid, 'SIGKILL');
      if (failure === 'stall') {
        // The JS thread stops for good, as a rank stuck in a loop or a dead NFS read would.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 600_000);
      }
    }
    buffer.fill(collective.rank + 1);
    await collective.allreduceSum(buffer);
    if (buffer[0] !== 3) throw new Error(`allreduce gave ${buffer[0]}, expected 3`);
  }
  await collective.barrier();
  collective.finalize();
  if (collective.rank === 0) console.log('finished');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

import { formatAllreduceReport, runAllreduceBench } from '../../bench/allreduce';
import { ENGINES } from '../../bench/engines';
import { TIMED_REPS } from '../../bench/model_section';
import { formatReport } from '../../bench/report';
import { checkEngines, runBench, selectSections } from '../../bench/runner';
import { SECTIONS } from '../../bench/sections';
import { initCollective } from '../distributed/collective';
import { GOOGLENET_DEFAULTS } from '../models/googlenet';
import { UsageError } from './args';
import { defineCommand, parseCommandLine } from './flags';

export const command = defineCommand({
  name: 'bench',
  usage:
    '[--json] [--quick] [--only SECTION,...] [--engines ID,...] [--reps N] [--threads N] [--width X] | mpirun -np N inception bench --allreduce [--width X] [--input-size N] [--batch-size N] [--reps N]',
  description:
    "Times the default googlenet (10 classes) on every engine and precision, one engine process after another: the median of the timed steps after warm-up, ms/image, images/s, achieved GFLOP/s and its share of the multiply-accumulate peak measured in the same run for the row's precision, each engine's time over onednn fp32's (above 1: onednn is faster) and peak RSS; the header names the ISA. A peer that is not installed shows as missing, with the reason.",
  flags: {
    json: { type: 'boolean', help: 'print one JSON document on stdout (progress goes to stderr)' },
    quick: {
      type: 'boolean',
      help: `smoke run: 1 warm-up + ${TIMED_REPS.quick} timed steps, slow configurations skipped`,
    },
    only: {
      type: 'list',
      metavar: 'LIST',
      defaultText: 'all',
      help: `sections to run, by id or prefix (infer, train): ${SECTIONS.map((s) => s.id).join(', ')}`,
    },
    engines: {
      type: 'list',
      metavar: 'LIST',
      defaultText: 'all',
      help: `engines to measure (the others show as skipped): ${ENGINES.map((e) => e.id).join(', ')}`,
    },
    reps: {
      type: 'int',
      defaultText: `${TIMED_REPS.normal}, ${TIMED_REPS.slow} for slow engines`,
      help: 'timed steps per measurement',
    },
    threads: { type: 'int', defaultText: 'all cores', help: 'threads for every engine' },
    width: {
      type: 'positive',
      default: GOOGLENET_DEFAULTS.widthMultiplier,
      help: 'width multiplier of the network',
    },
    allreduce: {
      type: 'boolean',
      help: "under mpirun (or srun --mpi=pmix): the gradient allreduce's bandwidth at googlenet's size and this model's, and its share of a data-parallel training step",
    },
    'input-size': {
      type: 'int',
      min: 1,
      default: 224,
      help: 'with --allreduce: image size of the timed training steps',
    },
    'batch-size': {
      type: 'int',
      min: 1,
      default: 16,
      help: 'with --allreduce: global batch of the timed training steps (split over the ranks)',
    },
  },
  epilog:
    'INCEPTION_BENCH_PYTHON names the Python with torch (default /usr/bin/python3); with PyTorch 2 it also runs torch.compile (needs g++).',
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { only, engines, quick, reps, threads, width, json } = cmd.values;
  if (cmd.values.allreduce) {
    return runAllreduce(cmd.values['input-size'], cmd.values['batch-size'], reps ?? 5, width, json);
  }
  try {
    selectSections(only);
  } catch (e) {
    throw new UsageError(`--only: ${(e as Error).message}`);
  }
  try {
    checkEngines(engines);
  } catch (e) {
    throw new UsageError(`--engines: ${(e as Error).message}`);
  }
  const report = await runBench({
    only,
    quick,
    engines,
    reps,
    width,
    threads,
    log: (message) => process.stderr.write(`bench: ${message}\n`),
  });
  console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}

/** Every rank runs it; rank 0 prints. Threads per rank were set before the engine loaded (commands.ts). */
async function runAllreduce(
  inputSize: number,
  batchSize: number,
  reps: number,
  width: number,
  json: boolean | undefined,
): Promise<number> {
  if (!(reps >= 1)) throw new UsageError(`--reps must be >= 1, got ${reps}`);
  const collective = initCollective();
  const log = (message: string) => {
    if (collective.rank === 0) process.stderr.write(`bench: ${message}\n`);
  };
  if (collective.threads?.warning) log(`warning: ${collective.threads.warning}`);
  if (collective.size < 2) log('warning: one rank: run it under mpirun -np 2 (or more) to measure anything');
  const report = await runAllreduceBench(collective, { width, inputSize, classes: 10, batchSize, reps, log });
  collective.finalize();
  if (collective.rank === 0)
    console.log(json ? JSON.stringify(report, null, 2) : formatAllreduceReport(report));
  return 0;
}

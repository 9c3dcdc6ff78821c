import { ENGINES } from '../../bench/engines';
import { TIMED_REPS } from '../../bench/model_section';
import { formatReport } from '../../bench/report';
import { checkEngines, runBench, selectSections } from '../../bench/runner';
import { SECTIONS } from '../../bench/sections';
import { GOOGLENET_DEFAULTS } from '../models/googlenet';
import { UsageError } from './args';
import { defineCommand, parseCommandLine } from './flags';

export const command = defineCommand({
  name: 'bench',
  usage: '[--json] [--quick] [--only SECTION,...] [--engines ID,...] [--reps N] [--threads N] [--width X]',
  description:
    "Times the default googlenet (10 classes) on every engine, one engine process after another: the median of the timed steps after warm-up, ms/image, images/s, achieved GFLOP/s, each engine's time over onednn's (above 1: onednn is faster) and peak RSS. A peer that is not installed shows as missing.",
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
  },
  epilog: 'INCEPTION_BENCH_PYTHON names the Python with torch (default /usr/bin/python3).',
});

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const { only, engines, quick, reps, threads, width, json } = cmd.values;
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

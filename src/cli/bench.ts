import { ENGINES } from '../../bench/engines';
import { formatReport } from '../../bench/report';
import { checkEngines, runBench, selectSections } from '../../bench/runner';
import { SECTIONS } from '../../bench/sections';
import { intFlag, numberFlag, parse, UsageError } from './args';

const HELP = `usage: inception bench [--json] [--quick] [--only SECTION,...] [--engines ID,...] [--reps N]
                       [--threads N] [--width X]

Times the default googlenet (10 classes) on every engine, one engine process after another: the median of
the timed steps after warm-up, ms/image, images/s, achieved GFLOP/s, each engine's time over onednn's
(above 1: onednn is faster) and peak RSS. A peer that is not installed shows as missing.

  --json          print one JSON document on stdout (progress goes to stderr)
  --quick         smoke run: 1 warm-up + 2 timed steps, slow configurations skipped
  --only LIST     sections to run, by id or prefix (infer, train):
                  ${SECTIONS.map((s) => s.id).join(', ')}
  --engines LIST  engines to measure (the others show as skipped):
                  ${ENGINES.map((e) => e.id).join(', ')}
  --reps N        timed steps per measurement (default 5, 3 for slow engines)
  --threads N     threads for every engine (default: all cores)
  --width X       width multiplier of the network (default 1: the notebook's googlenet)

INCEPTION_BENCH_PYTHON names the Python with torch (default /usr/bin/python3).`;

export async function run(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
    only: { type: 'string' },
    engines: { type: 'string' },
    reps: { type: 'string' },
    threads: { type: 'string' },
    width: { type: 'string' },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const list = (value: unknown) =>
    value === undefined ? undefined : String(value).split(',').filter(Boolean);
  const only = list(values.only);
  const engines = list(values.engines);
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
    quick: values.quick ?? false,
    engines,
    reps: values.reps === undefined ? undefined : intFlag('reps', values.reps, 5),
    width: numberFlag('width', values.width, 1),
    threads: values.threads === undefined ? undefined : intFlag('threads', values.threads, 1),
    log: (message) => process.stderr.write(`bench: ${message}\n`),
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}

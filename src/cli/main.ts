#!/usr/bin/env node
import { UsageError } from './args';

type CommandModule = { run: (argv: string[]) => Promise<number | undefined> };

/**
 * One file per command, loaded only when that command runs (so `--help` and each command need only their
 * own dependencies). `inference`: the command never trains, so without the native engine it runs on wasm
 * (fast inference, no training kernels) rather than cpu.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule>; inference?: boolean }> =
  {
    summary: {
      summary: 'print the Keras model summary of a network',
      load: () => import('./summary'),
      inference: true,
    },
    train: {
      summary: 'train a network on an image folder (Keras callbacks, checkpoints, --resume)',
      load: () => import('./train'),
    },
    evaluate: {
      summary: 'loss, top-1/top-5, per-class accuracy and confusion matrix of a model on an image folder',
      load: () => import('./evaluate'),
      inference: true,
    },
    predict: {
      summary: 'top-k labels with probabilities for image files',
      load: () => import('./predict'),
      inference: true,
    },
    export: {
      summary: 'export a model folder to ONNX or to a tfjs web model',
      load: () => import('./export'),
      inference: true,
    },
    serve: {
      summary: 'serve a model folder over HTTP (predict API, browser page, report)',
      load: () => import('./serve'),
      inference: true,
    },
    report: {
      summary: 'write a self-contained HTML report (curves, confusion matrix, samples)',
      load: () => import('./report'),
      inference: true,
    },
    plot: {
      summary: 'draw a network as an SVG or PNG graph (like Keras plot_model)',
      load: () => import('./plot'),
      inference: true,
    },
    demo: {
      summary: 'train a narrow GoogLeNet on the embedded CIFAR-10 sample, evaluate it, predict',
      load: () => import('./demo'),
    },
    bench: {
      summary: 'measure speed side by side: onednn, tfjs cpu/wasm, onnxruntime, PyTorch',
      load: () => import('./bench'),
    },
    doctor: {
      summary: 'the engine in use and why, addon and oneDNN versions, CPU ISA, threads, folders',
      load: () => import('./doctor'),
    },
  };

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return [
    'usage: inception <command> [options]   (inception <command> --help for its options)',
    '',
    'commands:',
    ...rows,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (!Object.hasOwn(COMMANDS, name))
    throw new UsageError(`unknown command ${JSON.stringify(name)}; run 'inception --help' for the list`);
  const command = COMMANDS[name];
  // Imported here, not at the top: `--help` should not load tfjs.
  const { selectBackend } = await import('../backend/select');
  await selectBackend(undefined, command.inference ? 'wasm' : 'cpu');
  const code = await (await command.load()).run(rest);
  return typeof code === 'number' ? code : 0;
}

// Exit explicitly once the command is done: a stray handle (a pending decode, a timer in a dependency)
// must not keep a finished or interrupted run alive. stdout/stderr are synchronous for files and pipes.
main(process.argv.slice(2)).then(
  (code) => {
    process.exit(code);
  },
  (err: unknown) => {
    const cmd = process.argv[2] && !process.argv[2].startsWith('-') ? ` ${process.argv[2]}` : '';
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`inception${cmd}: error: ${message.split('\n')[0]}\n`);
    if (process.env.INCEPTION_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);

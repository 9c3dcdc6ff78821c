import type { CommandSpec } from './flags';

/** What a command module exports: its flag table (src/cli/flags.ts) and the function that runs it. */
export interface CommandModule {
  command: CommandSpec<any>;
  run: (argv: string[]) => Promise<number | undefined>;
}

/**
 * Starts MPI (and so sets the engine's threads per rank) when `flag` is on the command line: OpenMP sizes
 * its team when the engine loads, so this must come first. The command takes the collective up with
 * initCollective(). Without the MPI addon the command fails here, with how to build it.
 */
export function startCollectiveWith(flag: string): (argv: string[]) => Promise<void> {
  return async (argv) => {
    if (!argv.includes(flag)) return;
    const { initCollective } = await import('../distributed/collective');
    initCollective();
  };
}

/**
 * Every command, in the order `inception --help` and docs/cli.md list them: its one-line summary and its
 * module, loaded only when the command runs (so `--help` and each command need only their own
 * dependencies). `inference`: the command never trains, so without the native engine it runs on wasm (fast
 * inference, no training kernels) rather than cpu.
 */
export const COMMANDS: Record<
  string,
  {
    summary: string;
    load: () => Promise<CommandModule>;
    inference?: boolean;
    /** Runs before the engine loads: what must precede it (MPI sizing the engine's threads). */
    beforeEngine?: (argv: string[]) => Promise<void>;
  }
> = {
  summary: {
    summary: 'print the Keras model summary of a network',
    load: () => import('./summary'),
    inference: true,
  },
  train: {
    summary: 'train a network on an image folder (Keras callbacks, checkpoints, --resume)',
    load: () => import('./train'),
    beforeEngine: startCollectiveWith('--distributed'),
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
  features: {
    summary:
      "one embedding per image from a network's body (pretrained weights or a model folder), as CSV or .npy",
    load: () => import('./features'),
    inference: true,
  },
  export: {
    summary: 'export a model folder to ONNX or to a tfjs web model',
    load: () => import('./export'),
    inference: true,
  },
  quantize: {
    summary: 'post-training static int8 quantization: calibrate on images, write a quantized model folder',
    load: () => import('./quantize'),
    inference: true,
  },
  serve: {
    summary: 'serve a model folder over HTTP (predict API, Open Inference Protocol, metrics, page)',
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
    summary: 'a one-minute training run, then the shipped cifar10 model evaluated and predicting',
    load: () => import('./demo'),
  },
  bench: {
    summary: 'measure speed side by side: onednn, tfjs cpu/wasm, onnxruntime, PyTorch',
    load: () => import('./bench'),
    beforeEngine: startCollectiveWith('--allreduce'),
  },
  doctor: {
    summary:
      'the engine in use and why, addon and oneDNN versions, CPU ISA and the precisions it runs, threads, folders',
    load: () => import('./doctor'),
  },
};

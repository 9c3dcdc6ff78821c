import type { TrainClassifierResult } from '../training/train_classifier';

/** The signals that stop training after the current step: Ctrl-C, a scheduler's TERM, Slurm's `--signal=USR1@T`. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGUSR1'] as const;

/**
 * Runs `work` with an AbortSignal tied to SIGINT, SIGTERM and SIGUSR1: the first asks training to stop after
 * the current step (it then writes checkpoints/last), a second one exits at once with 130. `who` prefixes
 * the notice (a rank of a distributed run).
 */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>, who = ''): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(
      `\n${who}interrupted (${name}): finishing the current step, then writing checkpoints/last (a second signal quits now)\n`,
    );
    controller.abort();
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  try {
    return await work(controller.signal);
  } finally {
    for (const name of STOP_SIGNALS) process.off(name, onSignal);
  }
}

function fmt(v: number | undefined): string {
  return v === undefined ? '-' : v.toFixed(4);
}

/** Prints how a training run ended (or its JSON) and returns the exit code: 130 when interrupted. */
export function trainingReport(result: TrainClassifierResult, seconds: number, json: boolean): number {
  const last = result.rows[result.rows.length - 1]?.logs ?? {};
  const saved = result.savedEpoch
    ? result.rows.find((r) => r.epoch + 1 === result.savedEpoch)?.logs
    : undefined;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        out: result.out,
        interrupted: result.interrupted,
        stoppedEarly: result.stoppedEarly,
        savedEpoch: result.savedEpoch,
        lastCheckpoint: result.lastCheckpoint,
        seconds,
        trainImages: result.trainImages,
        valImages: result.valImages,
        labels: result.labels,
        preprocessing: result.preprocessing,
        history: result.history,
        precision: result.options.precision,
      })}\n`,
    );
  } else if (result.interrupted) {
    process.stderr.write(
      `training interrupted: checkpoint written to ${result.lastCheckpoint}; continue with: inception train --out ${result.out} --resume\n`,
    );
  } else {
    console.log(
      `trained ${result.rows.length} epochs in ${seconds.toFixed(0)}s on ${result.trainImages} images` +
        `${result.options.precision === 'fp32' ? '' : ` (${result.options.precision})`}` +
        `${result.stoppedEarly ? ' (stopped early)' : ''}; last epoch: loss ${fmt(last.loss)}, accuracy ${fmt(last.accuracy)}` +
        `${last.val_loss !== undefined ? `, val_loss ${fmt(last.val_loss)}, val_accuracy ${fmt(last.val_accuracy)}` : ''}`,
    );
    console.log(
      `model folder: ${result.out} (weights of epoch ${result.savedEpoch}${saved?.val_accuracy !== undefined ? `, val_accuracy ${fmt(saved.val_accuracy)}` : ''})`,
    );
  }
  return result.interrupted ? 130 : 0;
}

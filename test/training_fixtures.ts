// Image folders for the training tests: three classes of clearly different colours, real PNG/JPEG files.
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { noise, writeImage } from './data_fixtures';

export const COLOURS: Record<string, number[]> = {
  blue: [30, 60, 220],
  green: [40, 200, 60],
  red: [220, 40, 40],
};

/**
 * Writes DIR/<colour>/<i>.png|jpg for each colour: the colour with a brightness that varies per image and
 * some texture, sizes varying around 32x32 so decoding resizes.
 */
export async function colourFolder(dir: string, perClass: number, seed = 0): Promise<string> {
  const jobs: Promise<string>[] = [];
  for (const [name, rgb] of Object.entries(COLOURS)) {
    for (let i = 0; i < perClass; i++) {
      const k = 0.7 + (0.3 * (((i + seed) * 37) % 11)) / 10;
      const size = 28 + ((i * 5 + seed) % 12);
      const format = i % 2 ? 'jpeg' : 'png';
      jobs.push(
        writeImage(
          path.join(dir, name, `${String(i).padStart(3, '0')}.${format === 'png' ? 'png' : 'jpg'}`),
          {
            width: size,
            height: size,
            format,
            pixel: (x, y) =>
              rgb.map((c, j) => Math.min(255, Math.round(c * k + (noise(x + i, y + seed)[j] - 128) / 6))),
          },
        ),
      );
    }
  }
  await Promise.all(jobs);
  return dir;
}

/** The built CLI, run as `node CLI_MAIN train ...` by the tests that exercise the command line. */
export const CLI_MAIN = path.join(__dirname, '..', 'src', 'cli', 'main.js');

/** The plain tfjs engine: the CLI tests that check files and exit codes need no native speed. */
export const CPU_ENV = { ...process.env, INCEPTION_BACKEND: 'cpu' };

/** The CLI run to completion on the cpu backend: exit code and output. */
export function cpuCli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], {
    encoding: 'utf8',
    env: CPU_ENV,
    timeout: 240_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `inception train` flags for a tiny network that trains in seconds on colourFolder data. */
export const TINY_TRAIN_FLAGS = [
  '--width',
  '0.05',
  '--input-size',
  '32',
  '--batch-size',
  '4',
  '--val-split',
  '0',
  '--dropout',
  '0',
];

/**
 * Runs `inception ARGS` and sends SIGINT once stdout shows epoch 2 (mid-run); a child that never exits is
 * killed after `timeoutMs`, so it fails the test instead of hanging the suite.
 */
export async function interruptedRun(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      if (/Epoch 2\//.test(stdout) && !child.killed) child.kill('SIGINT');
    });
    child.on('exit', (c) => resolve(c));
    setTimeout(() => child.kill('SIGKILL'), timeoutMs).unref();
  });
  return { code, stdout, stderr };
}

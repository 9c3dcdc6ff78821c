import { spawn } from 'node:child_process';

export type JsonProcessResult = { ok: true; value: any } | { ok: false; reason: string };

const lastLine = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();

/**
 * Runs one engine process to completion and parses the last non-empty line of its stdout as JSON (engines
 * print their one result last, so stray library output above it is harmless). A crash, a timeout or
 * unparsable output becomes `{ ok: false, reason }` with the most telling line of stderr.
 */
export function runJsonProcess(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<JsonProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: err.code === 'ENOENT' ? `${command}: not found` : err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ ok: false, reason: `timed out after ${options.timeoutMs / 1000} s` });
      const line = lastLine(stdout);
      if (line?.startsWith('{')) {
        try {
          return resolve({ ok: true, value: JSON.parse(line) });
        } catch {
          // not JSON after all: report below
        }
      }
      const why = lastLine(stderr) ?? line ?? 'no output';
      resolve({ ok: false, reason: `exited with ${signal ?? `code ${code}`}: ${why}` });
    });
  });
}

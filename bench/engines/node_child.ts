import { join } from 'node:path';
import { runJsonProcess } from '../spawn';
import type { BenchContext, ChildRequest } from '../types';

/** The entry point of JS engine children (compiled next to this folder's parent). */
const CHILD_SCRIPT = join(__dirname, '..', 'child.js');

/**
 * Runs one JS engine request in a fresh Node process, so that its peak RSS is its own and no engine's
 * threads or caches disturb the next. OMP_NUM_THREADS carries the thread count to native code.
 */
export async function runNodeChild<T>(
  request: ChildRequest,
  ctx: BenchContext,
  env: Record<string, string> = {},
): Promise<T | { ok: false; reason: string }> {
  const result = await runJsonProcess(process.execPath, [CHILD_SCRIPT, JSON.stringify(request)], {
    env: { ...process.env, OMP_NUM_THREADS: String(request.threads), ...env },
    timeoutMs: ctx.childTimeoutMs,
  });
  return result.ok ? (result.value as T) : result;
}

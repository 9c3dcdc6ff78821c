// One engine measurement in a process of its own: argv[2] is a ChildRequest (JSON); the last stdout line
// is the EngineResult or Probe (JSON). Errors become { ok: false, reason } so the parent can report them.
import { measureOnnxruntime } from './engines/onnxruntime';
import { measureTfjs } from './engines/tfjs';
import { measurePeaks } from './peak';
import type { ChildRequest } from './types';

async function main(): Promise<unknown> {
  const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
  if (request.engine === 'tfjs') return measureTfjs(request);
  if (request.engine === 'onnxruntime') return measureOnnxruntime(request);
  if (request.engine === 'peak') return measurePeaks(request);
  throw new Error(`unknown engine ${JSON.stringify(request.engine)}`);
}

main().then(
  (result) => {
    process.stdout.write(`\n${JSON.stringify(result)}\n`);
  },
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stdout.write(`\n${JSON.stringify({ ok: false, reason: message.split('\n')[0] })}\n`);
  },
);

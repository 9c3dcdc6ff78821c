import { readFileSync } from 'node:fs';
import * as os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  /** SIMD features that decide kernel speed. */
  simd: string[];
  memoryGiB: number;
  os: string;
  node: string;
  /** 1-minute load average when the bench started: above ~0.5 on an idle box means the timings are noisy. */
  loadAverageAtStart: number;
}

function cpuFlags(): Set<string> {
  try {
    const match = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return new Set(match ? match[1].split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/** The machine the numbers belong to. */
export function describeMachine(): Machine {
  const cpus = os.cpus();
  const flags = cpuFlags();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    simd: [
      ...['sse4_2', 'avx', 'avx2', 'fma', 'avx_vnni', 'avx512f', 'avx512_vnni', 'avx512_bf16'],
      ...['amx_tile', 'amx_bf16', 'amx_int8'],
    ].filter((f) => flags.has(f)),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg()[0],
  };
}

import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { GOOGLENET_DEFAULTS } from '../src/models/googlenet';
import { BENCH_MODEL } from './bench_model';
import { ENGINES, REFERENCE_ENGINE } from './engines';
import { FLOP_CONVENTION } from './flops';
import { describeMachine, type Machine } from './machine';
import { forwardFlops } from './model_section';
import { fmaPeaks, type Peaks } from './peak';
import { SECTIONS } from './sections';
import { checkTargets } from './targets';
import type { BenchContext, Section, SectionReport } from './types';

export interface BenchOptions {
  /** Section ids or id prefixes (`infer`, `train`); all when empty. */
  only?: string[];
  quick?: boolean;
  /** Engine ids to measure; all when empty. */
  engines?: string[];
  reps?: number;
  /** Width multiplier of the measured googlenet (default 1, the published network). */
  width?: number;
  /** Threads per engine; default: all cores. */
  threads?: number;
  /** Longest one engine process may run (ms). Default 10 minutes. */
  childTimeoutMs?: number;
  /** Progress lines for humans. */
  log?: (message: string) => void;
}

export interface EngineSummary {
  id: string;
  label: string;
  status: 'ok' | 'missing' | 'skipped';
  reason?: string;
  versions?: Record<string, string>;
  threads?: number;
  notes?: string[];
}

export interface BenchReport {
  tool: 'inception bench';
  startedAt: string;
  durationSeconds: number;
  machine: Machine;
  options: {
    quick: boolean;
    reps: number | null;
    threads: number;
    only: string[] | null;
    engines: string[] | null;
  };
  model: {
    name: string;
    classes: number;
    width: number;
    params: number;
    forwardGflopPerImage: Record<string, number>;
    flopConvention: string;
  };
  /** Every ratio is this engine's time over the row's: above 1 means it is faster. */
  referenceEngine: string;
  /** The multiply-accumulate peak per precision on the bench's threads, and oneDNN's ISA (native/peak.cc). */
  peaks: Peaks;
  engines: EngineSummary[];
  sections: SectionReport[];
  /** Issue 3's goals read off the sections' rows. */
  targets: SectionReport;
}

const matches = (section: Section, name: string) => section.id === name || section.id.startsWith(`${name}-`);

/** The sections `only` names (ids or prefixes), in SECTIONS order; an unknown name is an error listing the known. */
export function selectSections(only?: string[]): Section[] {
  if (!only?.length) return SECTIONS;
  for (const name of only) {
    if (!SECTIONS.some((s) => matches(s, name))) {
      throw new Error(
        `unknown section ${JSON.stringify(name)}; known: ${SECTIONS.map((s) => s.id).join(', ')}`,
      );
    }
  }
  return SECTIONS.filter((s) => only.some((name) => matches(s, name)));
}

/** Throws on an engine id that is not in ENGINES, listing the known ones. */
export function checkEngines(engines?: string[]): void {
  for (const id of engines ?? []) {
    if (!ENGINES.some((e) => e.id === id)) {
      throw new Error(`unknown engine ${JSON.stringify(id)}; known: ${ENGINES.map((e) => e.id).join(', ')}`);
    }
  }
}

/**
 * Runs the selected sections one after another (never in parallel: the engines share the cores) and
 * returns one report. Under `quick`, sections marked slow are skipped unless named in `only`.
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const started = Date.now();
  const sections = selectSections(options.only);
  checkEngines(options.engines);
  const machine = describeMachine();
  const threads = options.threads ?? machine.cores;
  const width = options.width ?? GOOGLENET_DEFAULTS.widthMultiplier;
  const tmpDir = mkdtempSync(join(os.tmpdir(), 'inception-bench-'));
  const memo = new Map<string, Promise<unknown>>();
  const ctx: BenchContext = {
    threads,
    quick: options.quick ?? false,
    width,
    engines: options.engines?.length ? options.engines : undefined,
    reps: options.reps,
    tmpDir,
    childTimeoutMs: options.childTimeoutMs ?? 600_000,
    log: options.log ?? (() => {}),
    once<T>(key: string, make: () => Promise<T>): Promise<T> {
      if (!memo.has(key)) memo.set(key, make());
      return memo.get(key) as Promise<T>;
    },
  };
  try {
    const reports: SectionReport[] = [];
    for (const section of sections) {
      const named = options.only?.includes(section.id) ?? false;
      if (ctx.quick && section.slow && !named) {
        const reason = 'slow: left out of --quick';
        reports.push({
          id: section.id,
          title: section.title,
          status: 'skipped',
          reason,
          columns: [],
          rows: [],
        });
        continue;
      }
      ctx.log(`section ${section.id}: ${section.title}`);
      reports.push(await section.run(ctx));
    }
    const engines: EngineSummary[] = [];
    for (const engine of ENGINES) {
      const { id, label } = engine;
      if (ctx.engines && !ctx.engines.includes(id)) {
        engines.push({ id, label, status: 'skipped', reason: 'not in --engines' });
        continue;
      }
      const { ok, ...probe } = await engine.probe(ctx);
      engines.push({ id, label, status: ok ? 'ok' : 'missing', ...probe });
    }
    const peaks = await fmaPeaks(ctx);
    const sizes = [224, 32];
    const flops = await Promise.all(sizes.map((size) => forwardFlops({ ...BENCH_MODEL, width, size }, ctx)));
    return {
      tool: 'inception bench',
      startedAt: new Date(started).toISOString(),
      durationSeconds: (Date.now() - started) / 1000,
      machine,
      options: {
        quick: ctx.quick,
        reps: options.reps ?? null,
        threads,
        only: options.only ?? null,
        engines: options.engines ?? null,
      },
      model: {
        name: BENCH_MODEL.model,
        classes: BENCH_MODEL.classes,
        width,
        params: flops[0].params,
        forwardGflopPerImage: Object.fromEntries(sizes.map((s, i) => [`${s}x${s}`, flops[i].flops / 1e9])),
        flopConvention: FLOP_CONVENTION,
      },
      referenceEngine: REFERENCE_ENGINE,
      peaks,
      engines,
      sections: reports,
      targets: checkTargets(reports),
    };
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

import { REFERENCE_ENGINE } from './engines';
import type { SectionReport } from './types';

/**
 * One goal of issue 12, read off the measured rows.
 * speed: the peer's time over ours for the same work, at least `goal`.
 * latency: the serve section's p50 for single-image requests at 224x224 (1 client) over the batch-1
 * inference time of `ours` in infer-224-b1, at most `goal`.
 */
export interface Target {
  section: string;
  metric: 'speed' | 'latency';
  /** Engine id of our row. */
  ours: string;
  /** Engine id, or a group name of PEER_GROUPS (its fastest row in that run). */
  peer: string;
  goal: number;
}

/** PyTorch's fp32 variants: a target against `torch-fp32` takes the fastest of them in that run. */
export const PEER_GROUPS: Record<string, string[]> = {
  'torch-fp32': ['torch-nchw', 'torch-channels-last', 'torch-compile'],
};

const inferenceBatches = ['infer-224-b1', 'infer-224-b8', 'infer-224-b32'];

export const TARGETS: Target[] = [
  ...inferenceBatches.flatMap((section): Target[] => [
    { section, metric: 'speed', ours: REFERENCE_ENGINE, peer: 'onnxruntime', goal: 1 },
    { section, metric: 'speed', ours: REFERENCE_ENGINE, peer: 'torch-fp32', goal: 1 },
  ]),
  ...['infer-224-b1', 'infer-224-b8'].map(
    (section): Target => ({
      section,
      metric: 'speed',
      ours: 'onednn-int8',
      peer: 'onnxruntime-int8',
      goal: 1,
    }),
  ),
  ...inferenceBatches.map(
    (section): Target => ({
      section,
      metric: 'speed',
      ours: 'onednn-bf16',
      peer: REFERENCE_ENGINE,
      goal: 1.5,
    }),
  ),
  { section: 'train-224-b8', metric: 'speed', ours: 'onednn-bf16', peer: 'torch-bf16', goal: 1 },
  { section: 'train-224-b8', metric: 'speed', ours: REFERENCE_ENGINE, peer: 'torch-fp32', goal: 1 },
  { section: 'serve', metric: 'latency', ours: REFERENCE_ENGINE, peer: 'serve', goal: 1.2 },
];

type Row = Record<string, any>;

/** The peer's row: for a group, its fastest row that ran. */
export function peerRow(rows: Row[], peer: string): Row | undefined {
  const ids = PEER_GROUPS[peer] ?? [peer];
  const ok = rows.filter((r) => r.status === 'ok' && ids.includes(r.id));
  return ok.sort((a, b) => a.msPerStep - b.msPerStep)[0];
}

/** Why a row of `id` is not there to compare: its own reason when it did not run. */
function absent(rows: Row[], id: string): string {
  const ids = PEER_GROUPS[id] ?? [id];
  const reasons = rows.filter((r) => ids.includes(r.id)).map((r) => `${r.id}: ${r.status} (${r.reason})`);
  return reasons.length ? reasons.join('; ') : `${id} did not run`;
}

function targetName(t: Target): string {
  if (t.metric === 'latency') return `serve p50, 1 client, 224x224 / ${t.ours} infer-224-b1`;
  return `${t.section}: ${t.ours} vs ${t.peer}`;
}

function check(target: Target, sections: SectionReport[]): Row {
  const base = {
    target: targetName(target),
    section: target.section,
    metric: target.metric,
    goal: `${target.metric === 'speed' ? '≥' : '≤'} ${target.goal}`,
  };
  const skipped = (reason: string) => ({ ...base, status: 'skipped', reason });
  if (target.metric === 'latency') {
    const serve = sections.find((s) => s.id === 'serve');
    const single = (serve?.rows as Row[] | undefined)?.find(
      (r) => r.status === 'ok' && r.imageSize === 224 && r.connections === 1,
    );
    if (!single)
      return skipped(`serve did not run single-image requests at 224x224 (${serve?.reason ?? 'no row'})`);
    const inference = sections.find((s) => s.id === 'infer-224-b1');
    if (!inference) return skipped('infer-224-b1 did not run in this bench: run it with serve');
    const ours = (inference.rows as Row[]).find((r) => r.id === target.ours && r.status === 'ok');
    if (!ours) return skipped(absent(inference.rows as Row[], target.ours));
    const value = single.latencyP50Ms / ours.msPerStep;
    const verdict = value <= target.goal ? 'met' : 'missed';
    return { ...base, peer: 'inception serve', status: 'ok', value, verdict };
  }
  const rows = sections.find((s) => s.id === target.section)!.rows as Row[];
  const ours = rows.find((r) => r.id === target.ours && r.status === 'ok');
  if (!ours) return skipped(absent(rows, target.ours));
  const peer = peerRow(rows, target.peer);
  if (!peer) return skipped(absent(rows, target.peer));
  const value = peer.msPerStep / ours.msPerStep;
  return {
    ...base,
    peer: peer.engine,
    status: 'ok',
    value,
    verdict: value >= target.goal ? 'met' : 'missed',
  };
}

/** The targets whose sections ran, checked against their rows; skipped where a row did not run. */
export function checkTargets(sections: SectionReport[]): SectionReport {
  return {
    id: 'targets',
    title: 'Targets (speed: peer time / our time; serve: p50 latency / batch-1 inference time)',
    status: 'ok',
    columns: [
      { key: 'target', label: 'target' },
      { key: 'peer', label: 'peer' },
      { key: 'value', label: 'value', digits: 2 },
      { key: 'goal', label: 'goal' },
      { key: 'verdict', label: 'verdict' },
    ],
    rows: TARGETS.filter((t) => sections.some((s) => s.id === t.section && s.rows.length)).map((t) =>
      check(t, sections),
    ),
  };
}

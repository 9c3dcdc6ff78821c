import { REFERENCE_ENGINE } from './engines';
import type { SectionReport } from './types';

/** One goal of issue 3, read off the measured rows: a speed ratio or a peak-RSS ratio against a peer. */
interface Target {
  section: string;
  /** Engine id, or `torch` for PyTorch's faster layout in that run. */
  peer: string;
  /** speed: peer time / onednn time, at least `goal`; rss: onednn peak RSS / peer's, at most `goal`. */
  metric: 'speed' | 'rss';
  goal: number;
}

export const TARGETS: Target[] = [
  { section: 'train-224-b8', peer: 'torch', metric: 'speed', goal: 1 },
  { section: 'train-224-b32', peer: 'torch', metric: 'speed', goal: 1 },
  { section: 'infer-224-b8', peer: 'torch', metric: 'speed', goal: 1 },
  { section: 'infer-224-b8', peer: 'onnxruntime', metric: 'speed', goal: 0.75 },
  { section: 'train-32-b128', peer: 'torch', metric: 'speed', goal: 0.8 },
  { section: 'infer-224-b1', peer: 'tfjs-cpu', metric: 'speed', goal: 100 },
  { section: 'train-224-b32', peer: 'torch', metric: 'rss', goal: 1.5 },
];

type Row = Record<string, any>;

/** The peer's row: for `torch`, whichever layout was faster in this run. */
function peerRow(rows: Row[], peer: string): Row | undefined {
  const ok = rows.filter(
    (r) => r.status === 'ok' && (peer === 'torch' ? r.id.startsWith('torch-') : r.id === peer),
  );
  return ok.sort((a, b) => a.msPerStep - b.msPerStep)[0];
}

function check(target: Target, sections: SectionReport[]): Row {
  const goal = `${target.metric === 'speed' ? '≥' : '≤'} ${target.goal}`;
  const name = `${target.section}: ${target.metric} vs ${target.peer}`;
  const base = { target: name, section: target.section, metric: target.metric, goal };
  const rows = sections.find((s) => s.id === target.section)!.rows as Row[];
  const reference = rows.find((r) => r.id === REFERENCE_ENGINE);
  if (reference?.status !== 'ok')
    return { ...base, status: 'skipped', reason: `${REFERENCE_ENGINE} did not run` };
  const peer = peerRow(rows, target.peer);
  if (!peer) return { ...base, status: 'skipped', reason: `${target.peer} did not run` };
  const value =
    target.metric === 'speed' ? peer.msPerStep / reference.msPerStep : reference.peakRssMiB / peer.peakRssMiB;
  const met = target.metric === 'speed' ? value >= target.goal : value <= target.goal;
  return { ...base, peer: peer.engine, status: 'ok', value, verdict: met ? 'met' : 'missed' };
}

/** The targets whose sections ran, checked against their rows; skipped where a row did not run. */
export function checkTargets(sections: SectionReport[]): SectionReport {
  return {
    id: 'targets',
    title: `Targets (speed: peer time / ${REFERENCE_ENGINE} time; rss: ${REFERENCE_ENGINE} peak RSS / peer's)`,
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

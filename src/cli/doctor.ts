import { collectEnvironment, type EnvironmentReport } from '../doctor/environment';
import { defineCommand, parseCommandLine } from './flags';

export const command = defineCommand({
  name: 'doctor',
  usage: '[--json]',
  description:
    'Reports the engine in use and why (native oneDNN from the prebuilt binary or a source build, or the fallback and its reason, with how to get the native engine), the addon file, the oneDNN version and the shared library actually loaded, the instruction set oneDNN dispatches to (avx2, avx512_core, avx512_core_bf16, avx512_core_amx...), threads, Node and tfjs versions, and where the shipped models and the cache (INCEPTION_HOME, default ~/.cache/inception-net) live. Attach its output to bug reports.',
  flags: { json: { type: 'boolean', help: 'print one JSON document' } },
});

/** The report as aligned "key: value" lines for people. */
export function formatEnvironment(r: EnvironmentReport): string {
  const b = r.backend;
  const how =
    b.how === 'native'
      ? `native oneDNN engine (${r.addon.source})`
      : b.how === 'requested'
        ? 'requested by INCEPTION_BACKEND'
        : `fallback: ${b.reason}`;
  const rows: [string, string][] = [
    ['inception-net', `${r.package.version} (${r.package.root})`],
    ['backend', `${b.backend}: ${how}`],
  ];
  if (b.fallbacks) {
    rows.push(
      [
        'fallbacks',
        `library and training: ${b.fallbacks.training}; inference commands: ${b.fallbacks.inference}`,
      ],
      ['to fix', b.remedy ?? ''],
    );
  }
  rows.push(['addon', r.addon.file ?? 'not loaded']);
  for (const s of r.addon.skipped) rows.push(['skipped', s]);
  if (r.addon.loaded) {
    rows.push(
      ['oneDNN', `${r.addon.onednnVersion} (${r.addon.bundledOneDnn ? 'bundled' : 'system'})`],
      ['libdnnl', r.addon.libraries.libdnnl ?? 'not mapped'],
      ['libgomp', r.addon.libraries.libgomp ?? 'not mapped'],
      ['CPU ISA', `${r.addon.cpuIsa} (what oneDNN dispatches to)`],
      [
        'precisions',
        `${r.addon.precisions?.available.join(', ')}${r.addon.precisions?.bf16Unavailable ? ` (${r.addon.precisions.bf16Unavailable})` : ''}`,
      ],
      ['threads', String(r.addon.threads)],
    );
  }
  rows.push([
    'MPI addon',
    r.mpi.loaded
      ? `${r.mpi.library} (${r.mpi.file})`
      : `${r.mpi.reason}: ${r.mpi.remedy} (needed by data-parallel training only)`,
  ]);
  const missing = r.cpu.missingFlags.length ? `; lacks ${r.cpu.missingFlags.join(', ')}` : '';
  rows.push(
    ['CPU', `${r.cpu.model}, ${r.cpu.cores} logical cores${missing}`],
    ['platform', `${r.platform}${r.versions.glibc ? `, glibc ${r.versions.glibc}` : ''}`],
    ['node', r.versions.node],
    ['tfjs', r.versions.tfjs],
    ...Object.entries(r.folders.models).map(([name, dir]): [string, string] => [`model ${name}`, dir]),
    ['cache', r.folders.cache],
    ...Object.entries(r.env).map(([k, v]): [string, string] => [k, v]),
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

export async function run(argv: string[]): Promise<number | undefined> {
  const cmd = parseCommandLine(command, argv);
  if (!cmd) return 0;
  const report = await collectEnvironment();
  console.log(cmd.values.json ? JSON.stringify(report, null, 2) : formatEnvironment(report));
  return 0;
}

import type { CommandSpec, FlagSpec, FlagTable } from './flags';

/** The placeholder shown after a flag that takes a value; '' for a boolean. */
export function metavarOf(spec: FlagSpec): string {
  if (spec.type === 'boolean') return '';
  if (spec.metavar) return spec.metavar;
  if (spec.type === 'choice') return spec.choices.join('|');
  if (spec.type === 'shape') return 'H,W,C';
  if (spec.type === 'list') return 'LIST';
  if (spec.type === 'int') return 'N';
  if (spec.type === 'string') return 'VALUE';
  return 'X';
}

/** `--name METAVAR`, as help and the usage errors write a flag. */
export function flagWithMetavar(name: string, spec: FlagSpec): string {
  const metavar = metavarOf(spec);
  return metavar ? `--${name} ${metavar}` : `--${name}`;
}

/** The default as help shows it: the table's value, or its words (defaultText); undefined when none. */
export function defaultOf(spec: FlagSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.type === 'boolean' || spec.default === undefined) return undefined;
  return Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default);
}

/** The flag's description: its help, then whether it is required or its default ("default: WORDS"). */
export function describeFlag(spec: FlagSpec): string {
  const d = defaultOf(spec);
  const shown = d === undefined ? '' : ` (default${spec.defaultText === undefined ? '' : ':'} ${d})`;
  return `${spec.help}${spec.required ? ' (required)' : ''}${shown}`;
}

/** The flags of a table by group, in the order each group first appears; ungrouped ones under "options". */
export function groupFlags(flags: FlagTable): [string, [string, FlagSpec][]][] {
  const groups = new Map<string, [string, FlagSpec][]>();
  for (const [name, flag] of Object.entries(flags)) {
    const group = flag.group ?? 'options';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push([name, flag]);
  }
  return [...groups];
}

const HELP_WIDTH = 110;
/** Flags longer than this start their description on the next line. */
const MAX_FLAG_COLUMN = 30;

/** Greedy word wrap into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  return wrapWords(text.split(/\s+/).filter(Boolean), width);
}

/** Greedy wrap of words (which may hold spaces) into lines of at most `width` characters. */
function wrapWords(words: string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** Paragraphs (blank-line separated) wrapped; a paragraph whose lines are indented is kept as written. */
export function formatParagraphs(text: string, width = HELP_WIDTH): string[] {
  return text.split('\n\n').flatMap((p, i) => {
    const lines = p.startsWith(' ') ? p.split('\n') : wrap(p, width);
    return i ? ['', ...lines] : lines;
  });
}

/** The synopsis split at spaces outside brackets, so `[--val-data DIR | --val-split F]` stays on one line. */
function usageTokens(usage: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let token = '';
  for (const ch of usage.replace(/\s+/g, ' ').trim()) {
    if (ch === ' ' && depth === 0) {
      tokens.push(token);
      token = '';
      continue;
    }
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    token += ch;
  }
  if (token) tokens.push(token);
  // A bare `--out PATH` stays together too.
  return tokens.reduce<string[]>((merged, t) => {
    const last = merged[merged.length - 1];
    if (last?.startsWith('--') && !last.includes(' ') && /^[A-Z]/.test(t))
      merged[merged.length - 1] = `${last} ${t}`;
    else merged.push(t);
    return merged;
  }, []);
}

/** `usage: inception NAME SYNOPSIS`, wrapped with the continuation lines under the synopsis. */
export function formatUsage(spec: CommandSpec, prefix = 'usage: '): string {
  const head = `${prefix}inception ${spec.name} `;
  const lines = wrapWords(usageTokens(spec.usage), HELP_WIDTH - head.length);
  if (lines.length === 0) lines.push('');
  return lines.map((l, i) => (i ? ' '.repeat(head.length) : head) + l).join('\n');
}

/** The rows of --help by section: [left column, description]. */
function helpSections(spec: CommandSpec): { title: string; rows: [string, string][] }[] {
  const sections = groupFlags(spec.flags).map(([title, flags]) => ({
    title,
    rows: flags.map(([name, flag]): [string, string] => [flagWithMetavar(name, flag), describeFlag(flag)]),
  }));
  const help: [string, string] = ['-h, --help', 'print this help and exit'];
  const options = sections.find((s) => s.title === 'options');
  if (options) options.rows.push(help);
  else sections.push({ title: 'options', rows: [help] });
  if (spec.positionals) {
    sections.unshift({
      title: 'arguments',
      rows: [[`${spec.positionals.metavar}...`, spec.positionals.help]],
    });
  }
  return sections;
}

/** `--help` of a command, generated from its spec: usage, description, flags by group, epilog. */
export function formatHelp(spec: CommandSpec): string {
  const sections = helpSections(spec);
  const widest = Math.max(...sections.flatMap((s) => s.rows.map(([left]) => left.length)));
  const column = 2 + Math.min(widest, MAX_FLAG_COLUMN) + 2;
  const indent = ' '.repeat(column);
  const out = [formatUsage(spec)];
  if (spec.description) out.push('', ...formatParagraphs(spec.description));
  for (const { title, rows } of sections) {
    out.push('', `${title}:`);
    for (const [left, text] of rows) {
      const lines = wrap(text, HELP_WIDTH - column);
      const head = `  ${left}`;
      if (head.length + 2 > column) out.push(head, ...lines.map((l) => indent + l));
      else out.push(head.padEnd(column) + lines[0], ...lines.slice(1).map((l) => indent + l));
    }
  }
  if (spec.epilog) out.push('', ...formatParagraphs(spec.epilog));
  return out.join('\n');
}

/** Prose for markdown: `<class>` must not read as an HTML tag, nor `shard*.bin` as emphasis. */
function markdownText(text: string): string {
  return text.replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('*', '\\*');
}

/** A table cell: markdown text that does not end the cell at a `|`. */
function cell(text: string): string {
  return markdownText(text).replaceAll('|', '\\|');
}

/** One command's section of docs/cli.md: synopsis, description, a table of flags per group, epilog. */
export function commandMarkdown(spec: CommandSpec, summary: string): string {
  const sentence = summary[0].toUpperCase() + summary.slice(1);
  const out = [`## inception ${spec.name}`, '', `${markdownText(sentence)}.`];
  out.push('', '```', formatUsage(spec, ''), '```');
  const prose = (text: string) =>
    text
      .split('\n\n')
      .flatMap((p) => [
        '',
        p.startsWith(' ') ? `\`\`\`\n${p}\n\`\`\`` : markdownText(p.replaceAll('\n', ' ')),
      ]);
  if (spec.description) out.push(...prose(spec.description));
  if (spec.positionals) {
    out.push('', `\`${spec.positionals.metavar}...\`: ${markdownText(spec.positionals.help)}.`);
  }
  for (const [title, flags] of groupFlags(spec.flags)) {
    out.push('', `**${title}**`, '', '| flag | default | description |', '| --- | --- | --- |');
    for (const [name, flag] of flags) {
      const d = flag.required ? 'required' : (defaultOf(flag) ?? '');
      out.push(
        `| \`${flagWithMetavar(name, flag).replaceAll('|', '\\|')}\` | ${cell(d)} | ${cell(flag.help)} |`,
      );
    }
  }
  if (spec.epilog) out.push(...prose(spec.epilog));
  return out.join('\n');
}

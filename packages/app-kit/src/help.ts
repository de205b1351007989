import type { OptionEntry } from './command-line';

const WIDTH = 100;

/** `--flag VALUE`, or `--flag [BOOL]` for switches. */
const flagText = (o: OptionEntry) =>
  `--${o.meta.flag} ${o.meta.switch ? '[BOOL]' : o.meta.valueName}`;

function wrap(text: string, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/[ \n\t]+/)) {
    if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => `${' '.repeat(indent)}${l.replace(/\u00a0/g, ' ')}`);
}

function grouped(options: readonly OptionEntry[]): Map<string, OptionEntry[]> {
  const groups = new Map<string, OptionEntry[]>();
  for (const o of options) {
    const list = groups.get(o.meta.group) ?? [];
    list.push(o);
    groups.set(o.meta.group, list);
  }
  return groups;
}

/**
 * `--help` text: the app's `intro` lines (name and version, what it does, usage, notes), then
 * `--help`/`--version`, every option by group with its env var, description and default, and the
 * exit codes.
 */
export function formatHelp(intro: readonly string[], options: readonly OptionEntry[]): string {
  const out = [
    ...intro,
    '',
    '  -h, --help       Show this help',
    '  -V, --version    Show the version',
  ];
  for (const [group, entries] of grouped(options)) {
    out.push('', `${group}:`);
    for (const o of entries) {
      out.push(`  ${flagText(o).padEnd(44)} ${o.meta.env}`);
      const defaultText =
        o.meta.defaultText === undefined
          ? ''
          : ` [default:\u00a0${o.meta.defaultText.replace(/ /g, '\u00a0')}]`;
      out.push(...wrap(`${o.description}${defaultText}`, 6));
    }
  }
  out.push(
    '',
    'Exit codes: 0 stopped by SIGINT/SIGTERM, 1 startup or runtime failure, 2 invalid configuration.',
  );
  return `${out.join('\n')}\n`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** A markdown table with padded columns (the layout biome's formatter produces). */
function markdownTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) =>
    Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** A README configuration table: one markdown table per group (flag, env, default, description). */
export function formatConfigTable(options: readonly OptionEntry[]): string {
  const out: string[] = [];
  for (const [group, entries] of grouped(options)) {
    const rows = entries.map((o) => [
      `\`${flagText(o)}\``,
      `\`${o.meta.env}\``,
      o.meta.defaultText === undefined ? '—' : `\`${o.meta.defaultText}\``,
      cell(o.description),
    ]);
    out.push(
      `**${group}**`,
      '',
      ...markdownTable(['Flag', 'Env', 'Default', 'Description'], rows),
      '',
    );
  }
  return out.join('\n');
}

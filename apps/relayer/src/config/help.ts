import { listOptions, type OptionEntry } from './parse-config';

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

function grouped(): Map<string, OptionEntry[]> {
  const groups = new Map<string, OptionEntry[]>();
  for (const o of listOptions()) {
    const list = groups.get(o.meta.group) ?? [];
    list.push(o);
    groups.set(o.meta.group, list);
  }
  return groups;
}

/** `--help` text, generated from the schema's descriptions. */
export function formatHelp(version: string): string {
  const out = [
    `synddb-relayer ${version}`,
    'Collects SyndDB validator signatures for withdrawals and submits them to the Bridge once the',
    'on-chain threshold is met, each exactly once, as durable jobs; registers TEE keys. Serves',
    '/health, /ready, /metrics, /submit-withdrawal, /register-key and /withdrawals.',
    '',
    'Usage: synddb-relayer [options]',
    '',
    'Every option can also be set with its environment variable; a flag overrides the variable.',
    'Switches take an optional value (--log-json, --log-json=false). --rpc-url and --validator-url',
    'may be repeated. Durations: 500ms, 1s, 5m, 1h 30m. Sizes: bytes, or 64KiB, 1MiB.',
    '',
    '  -h, --help       Show this help',
    '  -V, --version    Show the version',
  ];
  for (const [group, options] of grouped()) {
    out.push('', `${group}:`);
    for (const o of options) {
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

/** The README's configuration table (between the config-table markers). */
export function formatConfigTable(): string {
  const out: string[] = [];
  for (const [group, options] of grouped()) {
    const rows = options.map((o) => [
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

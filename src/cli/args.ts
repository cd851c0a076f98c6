import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UserError } from './errors.js';

/** One option of a command: its type, default and the line `--help` prints. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  default?: string | boolean;
  short?: string;
  help: string;
  multiple?: boolean;
}

export interface CommandSpec {
  /** e.g. "world render" */
  name: string;
  summary: string;
  usage?: string;
  options: Record<string, OptionSpec>;
  /** positional arguments allowed (default: none) */
  positionals?: boolean;
}

export type ParsedValues = Record<string, string | boolean | string[] | undefined>;

/** Renders `--help` text: every option with its default. */
export function helpText(spec: CommandSpec): string {
  const lines = [`t2i-align ${spec.name} — ${spec.summary}`, ''];
  if (spec.usage) lines.push(`usage: ${spec.usage}`, '');
  lines.push('options:');
  const entries = Object.entries(spec.options);
  entries.push([
    'config',
    { type: 'string', help: 'JSON file whose keys are option names (flags given on the command line win)' },
  ]);
  entries.push(['help', { type: 'boolean', help: 'show this help' }]);
  const flagOf = (name: string, opt: OptionSpec) =>
    opt.type === 'string' ? `--${name} <value>` : `--${name}`;
  // one column for the help texts, wide enough for this command's longest flag
  const width = Math.max(28, ...entries.map(([name, opt]) => flagOf(name, opt).length));
  for (const [name, opt] of entries) {
    const def = opt.default !== undefined ? ` (default: ${JSON.stringify(opt.default)})` : '';
    lines.push(`  ${flagOf(name, opt).padEnd(width)} ${opt.help}${def}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Parses argv against a spec. Unknown flags, missing values and bad config files become UserErrors.
 * `--config FILE` loads a JSON object whose keys are option names; command-line flags override it.
 * Returns `null` when `--help` was asked (the help text has been printed).
 */
export function parseCommand(
  spec: CommandSpec,
  argv: string[],
): { values: ParsedValues; positionals: string[] } | null {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
    config: { type: 'string' },
  };
  for (const [name, opt] of Object.entries(spec.options)) {
    options[name] = {
      type: opt.type,
      ...(opt.short ? { short: opt.short } : {}),
      ...(opt.multiple ? { multiple: true } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: spec.positionals ?? false, strict: true });
  } catch (e) {
    throw new UserError(`${spec.name}: ${(e as Error).message} (see \`t2i-align ${spec.name} --help\`)`);
  }
  if (parsed.values['help']) {
    process.stdout.write(helpText(spec));
    return null;
  }
  const values: ParsedValues = {};
  for (const [name, opt] of Object.entries(spec.options)) values[name] = opt.default;
  const configPath = parsed.values['config'];
  if (typeof configPath === 'string') {
    let cfg: unknown;
    try {
      cfg = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      throw new UserError(`${spec.name}: cannot read config file ${configPath}: ${(e as Error).message}`);
    }
    if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
      throw new UserError(`${spec.name}: config file ${configPath} must hold a JSON object`);
    }
    for (const [k, v] of Object.entries(cfg)) {
      const opt = spec.options[k];
      if (!opt) throw new UserError(`${spec.name}: config file ${configPath} has unknown option "${k}"`);
      if (opt.type === 'boolean' && typeof v !== 'boolean') {
        throw new UserError(`${spec.name}: config option "${k}" must be true or false`);
      }
      values[k] =
        opt.type === 'string' && typeof v !== 'string' && !Array.isArray(v)
          ? String(v)
          : (v as string | boolean);
    }
  }
  for (const [k, v] of Object.entries(parsed.values)) {
    if (k === 'help' || k === 'config') continue;
    values[k] = v as string | boolean | string[];
  }
  return { values, positionals: parsed.positionals };
}

/** Reads a string option as a number, with a clear error when it is not one. */
export function numberOption(
  values: ParsedValues,
  name: string,
  opts: { integer?: boolean; min?: number } = {},
): number {
  const raw = values[name];
  if (raw === undefined) throw new UserError(`--${name} is required`);
  const n = Number(raw);
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) {
    throw new UserError(
      `--${name} must be ${opts.integer ? 'an integer' : 'a number'}, got "${String(raw)}"`,
    );
  }
  if (opts.min !== undefined && n < opts.min)
    throw new UserError(`--${name} must be at least ${opts.min}, got ${n}`);
  return n;
}

/** Reads a required string option. */
export function stringOption(values: ParsedValues, name: string): string {
  const raw = values[name];
  if (typeof raw !== 'string' || raw === '') throw new UserError(`--${name} is required`);
  return raw;
}

/** One entry of a command group such as `t2i-align reward <action>`. */
export interface Subcommand {
  summary: string;
  run: (argv: string[]) => Promise<number>;
}

/**
 * The runner of a command group (`t2i-align <group> <name> ...`): without a name it prints the
 * list of names (exit 2; with `--help` or `help`, exit 0), an unknown name is a UserError that
 * lists the known ones, and anything else runs the named entry with the rest of argv.
 */
export function subcommandGroup(
  group: string,
  noun: string,
  entries: Record<string, Subcommand>,
): (argv: string[]) => Promise<number> {
  const names = Object.keys(entries);
  const width = Math.max(12, ...names.map((n) => n.length + 2));
  const usage = [
    `usage: t2i-align ${group} <${noun}> [options]   (t2i-align ${group} <${noun}> --help)`,
    '',
    `${noun}s:`,
    ...Object.entries(entries).map(([name, e]) => `  ${name.padEnd(width)} ${e.summary}`),
  ].join('\n');
  const expected = names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0];
  return async (argv) => {
    const [name, ...rest] = argv;
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write(`${usage}\n`);
      return name ? 0 : 2;
    }
    const entry = Object.hasOwn(entries, name) ? entries[name] : undefined;
    if (!entry) throw new UserError(`unknown ${group} ${noun} "${name}" (expected ${expected})`);
    return entry.run(rest);
  };
}

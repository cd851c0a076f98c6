import { UserError } from './errors.js';

/**
 * Each command family lives in its own module under src/cli/ and exports
 * `run(argv: string[]): Promise<number>` (the exit code). The table is loaded lazily so that
 * commands which need no tensor engine (world, serve) start without loading libtorch.
 */
const commands: Record<string, { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }> = {
  selfcheck: { summary: 'train a tiny conv net on the tensor engine and print its loss falling', load: () => import('./selfcheck.js') },
  generate: { summary: 'sample images from a text-to-image checkpoint (PNGs + manifest.jsonl)', load: () => import('./generate.js') },
  serve: { summary: 'serve the labeling, comparison and admin web app of a run', load: () => import('./serve.js') },
  labelers: { summary: 'add labelers and issue their access tokens, list them, reset a token', load: () => import('./labelers.js') },
};

function usage(): string {
  const lines = ['usage: t2i-align <command> [options]   (t2i-align <command> --help for its options)', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`t2i-align: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    const mod = await cmd.load();
    return await mod.run(rest);
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`t2i-align ${name}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

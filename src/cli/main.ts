/**
 * The `charter` command. Each subcommand lives in its own module under ./commands and is
 * loaded on demand, so `charter check` does not pay for gRPC or LMDB start-up.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type CommandRunner = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, string> = {
  serve: 'Run the policy decision point (gRPC + HTTP)',
  import: 'Load NDJSON attribute data into an LMDB store',
  write: 'Send NDJSON records to a running server\'s Admin API',
  authorize: 'Ask a running server for one decision and explain it',
  check: 'Compile and validate policy files',
  test: 'Run policy test files',
  sidecar: 'Run a local caching sidecar in front of a Charter server',
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, text]) => `  ${name.padEnd(width)}  ${text}`);
  return `Usage: charter <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`charter <command> --help\` for a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage());
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    const pkg = await import('../../package.json', { with: { type: 'json' } });
    process.stdout.write(`${pkg.default.version}\n`);
    return 0;
  }
  if (!(command in COMMANDS)) {
    process.stderr.write(`charter: unknown command '${command}'\n\n${usage()}`);
    return 2;
  }
  const modulePath = new URL(`./commands/${command}.js`, import.meta.url);
  if (!existsSync(fileURLToPath(modulePath))) {
    process.stderr.write(`charter: command '${command}' is not available in this build\n`);
    return 2;
  }
  const mod = (await import(modulePath.href)) as { run: CommandRunner };
  return mod.run(rest);
}

/** `charter serve`: run the policy decision point (gRPC + HTTP). */
import { parseServeArgs, serveUsage } from '../../server/config.js';
import { runServe } from '../../server/run.js';

export async function run(args: string[]): Promise<number> {
  const parsed = parseServeArgs(args, process.env);
  if (parsed.kind === 'help') {
    process.stdout.write(serveUsage());
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`charter serve: ${parsed.message}\n`);
    return 2;
  }
  return runServe(parsed.config);
}

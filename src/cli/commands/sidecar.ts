/** `charter sidecar`: a local caching Authorization endpoint in front of a Charter server. */
import { pino } from 'pino';
import { parseSidecarArgs, sidecarUsage, startSidecar, type RunningSidecar } from '../../sidecar/index.js';

export async function run(args: string[]): Promise<number> {
  const parsed = parseSidecarArgs(args, process.env);
  if (parsed.kind === 'help') {
    process.stdout.write(sidecarUsage());
    return 0;
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`charter sidecar: ${parsed.message}\n`);
    return 2;
  }
  const config = parsed.config;
  const logger = pino({ level: config.logLevel, base: { pid: process.pid }, name: 'charter.sidecar' });
  let sidecar: RunningSidecar;
  try {
    sidecar = await startSidecar(config, { logger });
  } catch (err) {
    logger.fatal({ err: { message: (err as Error).message }, listen: config.listen }, `cannot start the sidecar: ${(err as Error).message}`);
    return 1;
  }
  logger.info(
    { address: sidecar.address, httpPort: sidecar.httpPort, upstream: config.upstream },
    `charter sidecar listening on ${sidecar.address}${sidecar.httpPort >= 0 ? `, HTTP on ${config.httpHost}:${sidecar.httpPort}` : ''}, upstream ${config.upstream}`,
  );
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'draining in-flight calls');
      sidecar
        .close()
        .catch((err: unknown) => logger.error({ err }, 'error while stopping'))
        .finally(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

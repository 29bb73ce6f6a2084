/**
 * Fallback Charter server for the load benchmarks while src/store (LMDB) is not built: the
 * real startServer (gRPC services, decision point, metrics) over the in-memory attribute
 * source seeded with the payments data. Results from it are labelled as such; `charter
 * serve` with the LMDB store is used whenever dist/store exists.
 */
import { pino } from 'pino';
import { MemorySources } from '../../dist/policy/index.js';
import { startServer } from '../../dist/server/index.js';
import { ROOT, paymentsRecords } from './payments.mjs';

class MemoryServerStore extends MemorySources {
  rev = 1;
  revision() {
    return this.rev;
  }
  async write(records) {
    for (const r of records) this.applyRecord(r);
    this.rev++;
    return { revision: this.rev, applied: records.length };
  }
  changesSince() {
    return undefined;
  }
  tuplesOfObject() {
    return [];
  }
  tuplesOfSubject() {
    return [];
  }
  close() {}
}

const store = new MemoryServerStore();
for (const r of paymentsRecords()) store.applyRecord(r);
const logger = pino({ level: 'warn' });
const server = await startServer({
  host: '127.0.0.1',
  grpcPort: 0,
  httpPort: -1,
  policiesDir: `${ROOT}policies`,
  store,
  logger,
  watchPolicies: false,
  defaultMetrics: false,
  storePollIntervalMs: 0,
});
process.stdout.write(`${JSON.stringify({ grpcPort: server.grpcPort, role: 'charter-memory' })}\n`);
const stop = () => server.close(1000).then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/**
 * The cached client check: a CharterClient (src/client) whose cache holds the answer, asked
 * the same three-field request as the lru-cache floor. Returns undefined when the client SDK
 * is not built.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hotRequests } from './inprocess.mjs';
import { ALICE, P100, ROOT } from './payments.mjs';

const HOT = hotRequests();

export const CACHED_REQUEST = Object.freeze({ actor: ALICE, action: 'read', resource: P100 });

export function clientBuilt() {
  return existsSync(join(ROOT, 'dist', 'client', 'index.js'));
}

/** A client connected to `port`, with CACHED_REQUEST answered once (so the next is a hit). */
export async function warmClient(port) {
  if (!clientBuilt()) return undefined;
  const { CharterClient } = await import('../../dist/client/index.js');
  // A generous deadline: on a busy machine the first call (connection set-up) can take longer
  // than the default, and its DENY would only measure the machine.
  const client = new CharterClient({ target: `127.0.0.1:${port}`, cache: { maxEntries: 10_000 }, deadlineMs: 10_000 });
  await client.ready(10_000);
  let first = await client.check(CACHED_REQUEST);
  for (let i = 0; i < 3 && !first.allowed && first.error; i++) first = await client.check(CACHED_REQUEST);
  if (!first.allowed) throw new Error(`client fixture broken: expected ALLOW, got ${JSON.stringify(first)}`);
  const second = await client.check(CACHED_REQUEST);
  const stats = client.stats();
  if (stats.hits < 1) throw new Error(`client did not cache the answer: ${JSON.stringify(stats)}`);
  return {
    client,
    /** The check() call on a hit: returns the cached, already settled promise. */
    hit: (i) => client.check(HOT[i & 3]),
    /** The same awaited (adds the microtask hop every caller pays). */
    hitAwaited: async () => (await client.check(CACHED_REQUEST)).allowed,
    stats: () => client.stats(),
    close: () => client.close(),
    checkResult: second,
  };
}

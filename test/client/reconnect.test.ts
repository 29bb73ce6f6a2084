/** The invalidation stream across a server restart on the same port, and fail-closed meanwhile. */
import { afterEach, describe, expect, it } from 'vitest';
import { CharterClient } from '../../src/client/index.js';
import { ALICE, P100, sleep, startServer, waitFor, type Harness } from './helpers.js';

const READ_P100 = { actor: ALICE, action: 'read', resource: P100 };

describe('CharterClient across a server restart', () => {
  let h: Harness | undefined;
  let client: CharterClient | undefined;
  afterEach(async () => {
    client?.close();
    await h?.close();
    h = undefined;
  });

  it('stops serving old cached ALLOWs while cut off, fails closed, and resubscribes to the new server', async () => {
    h = await startServer();
    const port = h.server.grpcPort;
    const states: boolean[] = [];
    client = new CharterClient({
      target: h.target,
      deadlineMs: 1_000,
      staleAllowMs: 100,
      cache: { maxEntries: 100, ttlMs: 600_000 },
      reconnect: { initialMs: 20, maxMs: 200 },
      onStreamState: (connected) => states.push(connected),
    });
    expect(await client.ready()).toBe(true);
    expect((await client.check(READ_P100)).allowed).toBe(true);
    expect((await client.check(READ_P100)).cached).toBe(true);

    await h.close();
    h = undefined;
    await waitFor('the stream to be cut off', () => !client!.streamConnected);
    await sleep(150); // older than staleAllowMs now
    const down = await client.check(READ_P100);
    expect(down).toMatchObject({ allowed: false, decision: 'DENY', cached: false });
    expect(down.error?.code).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
    expect(client.stats().staleAllowsRefused).toBeGreaterThanOrEqual(1);

    h = await startServer({ grpcPort: port });
    expect(h.server.grpcPort).toBe(port);
    expect(await client.ready(10_000)).toBe(true);
    const back = await waitFor('an ALLOW from the new server', async () => {
      const r = await client!.check(READ_P100);
      return r.allowed ? r : undefined;
    });
    expect(back.cached).toBe(false);
    expect(back.revision.policy).toBe(h.server.decisionPoint.policyRevision);
    expect(states).toEqual([true, false, true]);
    expect(client.stats().streamReconnects).toBeGreaterThanOrEqual(1);
  });

  it('keeps serving a cached DENY while cut off (a stale DENY fails closed)', async () => {
    h = await startServer();
    client = new CharterClient({ target: h.target, staleAllowMs: 50, cache: { maxEntries: 100, ttlMs: 600_000 }, reconnect: { initialMs: 20, maxMs: 200 } });
    expect(await client.ready()).toBe(true);
    const deny = { actor: ALICE, action: 'read', resource: 'uon://payments/payment/p-200' };
    expect((await client.check(deny)).allowed).toBe(false);
    await h.close();
    h = undefined;
    await waitFor('the stream to be cut off', () => !client!.streamConnected);
    await sleep(100);
    expect(await client.check(deny)).toMatchObject({ allowed: false, cached: true });
  });
});

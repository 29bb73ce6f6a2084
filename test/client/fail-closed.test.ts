/** Fail closed with nothing listening: no server needed. */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CharterClient, type CharterClientError } from '../../src/client/index.js';

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const REQ = { actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100' };

describe('fail closed with the PDP down', () => {
  let client: CharterClient | undefined;
  afterEach(() => client?.close());

  it('answers DENY with a reason, counts it and calls onError', async () => {
    const errors: CharterClientError[] = [];
    client = new CharterClient({ target: `127.0.0.1:${await closedPort()}`, deadlineMs: 300, onError: (e) => errors.push(e) });
    const r = await client.check(REQ);
    expect(r.allowed).toBe(false);
    expect(r.decision).toBe('DENY');
    expect(r.cached).toBe(false);
    expect(r.error?.code).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
    expect(r.reason).toContain('did not decide');
    const authorizeErrors = errors.filter((e) => e.source === 'authorize');
    expect(authorizeErrors).toHaveLength(1);
    const s = client.stats();
    expect(s.errors).toBe(1);
    expect(s.failedClosed).toBe(1);
    expect(s.streamConnected).toBe(false);
  });

  it('does not cache failures: the next check calls again', async () => {
    client = new CharterClient({ target: `127.0.0.1:${await closedPort()}`, deadlineMs: 300 });
    await client.check(REQ);
    const r = await client.check(REQ);
    expect(r.allowed).toBe(false);
    expect(client.stats().rpcs).toBe(2);
    expect(client.stats().size).toBe(0);
  });

  it('checkMany answers every request with DENY', async () => {
    client = new CharterClient({ target: `127.0.0.1:${await closedPort()}`, deadlineMs: 300 });
    const rs = await client.checkMany([REQ, { ...REQ, action: 'refund' }, REQ]);
    expect(rs.map((r) => r.decision)).toEqual(['DENY', 'DENY', 'DENY']);
    expect(client.stats().rpcs).toBe(1);
  });

  it('answers DENY (CLOSED) after close(), and a hook that throws does not break it', async () => {
    client = new CharterClient({
      target: `127.0.0.1:${await closedPort()}`,
      deadlineMs: 300,
      onError: () => {
        throw new Error('hook bug');
      },
    });
    expect((await client.check(REQ)).allowed).toBe(false);
    client.close();
    const r = await client.check(REQ);
    expect(r.allowed).toBe(false);
    expect(r.error?.code).toBe('CLOSED');
  });

  it('times out a PDP that never answers (a listener that accepts and stays silent)', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      client = new CharterClient({ target: `127.0.0.1:${(silent.address() as { port: number }).port}`, deadlineMs: 200 });
      const r = await client.check(REQ);
      expect(r.allowed).toBe(false);
      expect(r.error?.code).toMatch(/DEADLINE_EXCEEDED|UNAVAILABLE/);
    } finally {
      client?.close();
      client = undefined;
      silent.close();
    }
  });

  it('ready() says false while nothing listens, and resolves at once on close()', async () => {
    client = new CharterClient({ target: `127.0.0.1:${await closedPort()}` });
    expect(await client.ready(100)).toBe(false);
    const pending = client.ready(60_000);
    client.close();
    expect(await pending).toBe(false);
  });

  it('rejects a request that is not one (a programming error, not a decision)', async () => {
    client = new CharterClient({ target: '127.0.0.1:1' });
    await expect(client.check({ actor: 1 } as never)).rejects.toThrow(TypeError);
  });
});

/**
 * The invalidation stream cut while the server stays up, and a revocation made during the cut:
 * the client reaches the server through a TCP proxy that we cut (connections reset, new ones
 * refused) and restore, while an Admin write revokes Alice's access directly on the server. No
 * check started later than the client's bound (staleAllowMs) after the revocation may answer
 * ALLOW: not while cut off (old ALLOWs are no longer trusted), not after reconnecting (the new
 * stream starts with a flush). test/client/reconnect.test.ts covers a server restart without a
 * revocation; this is the case it leaves out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CharterClient } from '../../src/client/index.js';
import { ALICE, ALICE_ATTRIBUTES, P100, sleep, waitFor, writeEntity, type Harness } from '../client/helpers.js';
import { clientThroughProxy, type ProxiedClient, type TcpProxy } from './tcp-proxy.js';

const BOUND_MS = 300;
const READ_P100 = { actor: ALICE, action: 'read', resource: P100 };

let h: Harness;
let p: TcpProxy;
let client: CharterClient;
let fixture: ProxiedClient | undefined;

beforeAll(async () => {
  fixture = await clientThroughProxy({ deadlineMs: 1_000, staleAllowMs: BOUND_MS });
  ({ h, proxy: p, client } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

describe('invalidation stream cut with a revocation during the cut', () => {
  it(`no ALLOW later than ${BOUND_MS} ms after the revocation: while cut off, and after reconnecting`, async () => {
    expect((await client.check(READ_P100)).allowed).toBe(true);
    expect(await client.check(READ_P100)).toMatchObject({ allowed: true, cached: true });

    p.cut();
    await waitFor('the client to notice the cut', () => !client.streamConnected, 10_000);
    // Revoked on the server while this client cannot hear about it.
    await writeEntity(h, ALICE, { ...ALICE_ATTRIBUTES, suspended: true });
    const ackAt = performance.now();

    const answers: { at: number; allowed: boolean; cached: boolean; error?: string }[] = [];
    const sample = async (): Promise<void> => {
      const at = performance.now();
      const r = await client.check(READ_P100);
      answers.push({ at: at - ackAt, allowed: r.allowed, cached: r.cached, error: r.error?.code });
    };
    // Cut off for a while: checks keep coming.
    while (performance.now() - ackAt < BOUND_MS + 400) {
      await sample();
      await sleep(20);
    }
    p.restore();
    await waitFor('the stream to come back', () => client.streamConnected, 10_000);
    for (let i = 0; i < 20; i++) {
      await sample();
      await sleep(10);
    }

    const late = answers.filter((a) => a.at >= BOUND_MS && a.allowed);
    expect(late, JSON.stringify(late.slice(0, 3))).toEqual([]);
    // While cut off, the client failed closed (no server to ask); once back, the server said DENY.
    expect(answers.some((a) => a.at >= BOUND_MS && a.error !== undefined)).toBe(true);
    const after = answers.slice(-20);
    expect(after.every((a) => !a.allowed && a.error === undefined)).toBe(true);
    expect(client.stats().staleAllowsRefused).toBeGreaterThanOrEqual(1);
    process.stdout.write(`[reliability] stream cut + revocation during the cut: ${answers.length} checks, ${answers.filter((a) => a.allowed).length} ALLOWs (all within ${BOUND_MS} ms of the ack), 0 after\n`);
  });
});

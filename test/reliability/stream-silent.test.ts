/**
 * The invalidation stream goes silent without closing: a network path that drops packets but
 * never resets the connection. TCP would take tens of seconds to notice; the server's heartbeats
 * (every 500 ms) let the client notice within its silence timeout, after which cached ALLOWs
 * older than staleAllowMs are no longer trusted. A revocation made during the silence is never
 * answered ALLOW past silence timeout + staleAllowMs (+ the watchdog's tick).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CharterClient } from '../../src/client/index.js';
import { ALICE, ALICE_ATTRIBUTES, P100, sleep, waitFor, writeEntity, type Harness } from '../client/helpers.js';
import { clientThroughProxy, type ProxiedClient, type TcpProxy } from './tcp-proxy.js';

const SILENCE_MS = 600;
const STALE_ALLOW_MS = 300;
/** Detection ≤ silence + one watchdog tick (silence / 4); generous margin for a loaded machine. */
const BOUND_MS = SILENCE_MS + STALE_ALLOW_MS + 600;
const READ_P100 = { actor: ALICE, action: 'read', resource: P100 };

let h: Harness;
let p: TcpProxy;
let client: CharterClient;
let fixture: ProxiedClient | undefined;

beforeAll(async () => {
  fixture = await clientThroughProxy({ deadlineMs: 500, staleAllowMs: STALE_ALLOW_MS, invalidationSilenceMs: SILENCE_MS });
  ({ h, proxy: p, client } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

describe('invalidation stream silently blackholed', () => {
  it('an idle stream stays connected on heartbeats alone', async () => {
    expect((await client.check(READ_P100)).allowed).toBe(true);
    await sleep(SILENCE_MS * 3);
    expect(client.streamConnected).toBe(true);
    expect(await client.check(READ_P100)).toMatchObject({ allowed: true, cached: true });
  });

  it(`no ALLOW later than ${BOUND_MS} ms after a revocation made while the path drops everything`, async () => {
    p.blackhole();
    await writeEntity(h, ALICE, { ...ALICE_ATTRIBUTES, suspended: true });
    const ackAt = performance.now();
    const answers: { at: number; allowed: boolean; cached: boolean }[] = [];
    while (performance.now() - ackAt < BOUND_MS + 700) {
      const at = performance.now() - ackAt;
      const r = await client.check(READ_P100);
      answers.push({ at, allowed: r.allowed, cached: r.cached });
      await sleep(25);
    }
    expect(client.streamConnected).toBe(false);
    const late = answers.filter((a) => a.at >= BOUND_MS && a.allowed);
    expect(late, JSON.stringify(late.slice(0, 3))).toEqual([]);
    expect(answers.some((a) => a.at >= BOUND_MS)).toBe(true);
    const lastAllow = Math.max(0, ...answers.filter((a) => a.allowed).map((a) => a.at));
    process.stdout.write(`[reliability] silent stream + revocation: ${answers.length} checks, last ALLOW ${Math.round(lastAllow)} ms after the ack (bound ${BOUND_MS} ms)\n`);
  });
});

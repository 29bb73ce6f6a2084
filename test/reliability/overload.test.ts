/**
 * Overload: 512 calls in flight against a `charter serve` child process (default
 * --max-in-flight 256), in waves of small Authorize calls and with 1,000-request BatchAuthorize
 * calls. Every call ends (no hang) with a correct answer or a clean refusal (DEADLINE_EXCEEDED:
 * its deadline passed while it queued; RESOURCE_EXHAUSTED: shed by admission control, counted in
 * charter_rejected_requests_total{reason="overloaded"}), the server's RSS stays bounded, and it
 * answers normally afterwards.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, unaryCall, type CharterClients } from '../../src/server/grpc-client.js';
import { ALICE, BUNDLED_POLICIES, P100, metricValue, rssBytes, spawnServe, tally, type ChildServer } from './helpers.js';

const IN_FLIGHT = 512;
const STATUS_NAME = Object.fromEntries(Object.entries(status).map(([k, v]) => [v, k])) as Record<number, string>;
const ALICE_P100 = { actor: ALICE, action: 'read', resource: P100, context: null, resourceAttributes: null, actorClaims: null };

let server: ChildServer;
let channels: CharterClients[];

beforeAll(async () => {
  server = await spawnServe(['--policies', BUNDLED_POLICIES, '--no-watch']);
  // Several connections, as many callers would have.
  channels = Array.from({ length: 8 }, () => connect({ target: server.target }));
  await unaryCall(channels[0].authorization, 'Authorize', ALICE_P100, new Metadata(), 10_000);
});

afterAll(async () => {
  for (const c of channels ?? []) c.close();
  await server?.kill();
});

type Outcome = { code: number; decision?: string; responses?: number };

function authorize(i: number, request: unknown, deadlineMs: number, method = 'Authorize'): Promise<Outcome> {
  const c = channels[i % channels.length];
  return unaryCall<{ decision?: string; responses?: { decision: string }[] }>(c.authorization, method, request, new Metadata(), deadlineMs).then(
    (res) => ({ code: status.OK, decision: res.decision, responses: res.responses?.length }),
    (err: ServiceError) => ({ code: err.code }),
  );
}

const CLEAN = new Set([status.OK, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED]);
/** RESOURCE_EXHAUSTED answers seen by the clients, to compare with the server's count. */
let shedSeen = 0;

describe(`overload: ${IN_FLIGHT} calls in flight`, () => {
  it('waves of 512 Authorize calls: each ends with the right answer or a clean refusal; RSS bounded', async () => {
    const t = tally();
    const rssBefore = rssBytes(server.pid)!;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssBytes(server.pid) ?? 0)), 50);
    try {
      for (let wave = 0; wave < 2; wave++) {
        // Short deadlines on half of them: those may be refused, never hang.
        const outcomes = await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => authorize(i, ALICE_P100, i % 2 ? 200 : 10_000)));
        for (const o of outcomes) {
          t.add(o.code === status.OK ? `OK/${o.decision}` : STATUS_NAME[o.code]);
          expect(CLEAN.has(o.code), STATUS_NAME[o.code]).toBe(true);
          if (o.code === status.OK) expect(o.decision).toBe('DECISION_ALLOW');
          if (o.code === status.RESOURCE_EXHAUSTED) shedSeen++;
        }
        // Admission control (default --max-in-flight 256) sheds what is over its limit at once,
        // whatever the deadline; what it admits is answered.
        expect(outcomes.filter((o) => o.code === status.OK).length).toBeGreaterThanOrEqual(IN_FLIGHT / 4);
      }
    } finally {
      clearInterval(sampler);
    }
    t.report(`2 waves x ${IN_FLIGHT} Authorize`);
    process.stdout.write(`[reliability] RSS before ${Math.round(rssBefore / 1048576)} MB, peak ${Math.round(rssPeak / 1048576)} MB\n`);
    expect(rssPeak - rssBefore, 'RSS growth under 512 small calls in flight').toBeLessThan(256 * 1024 * 1024);
  });

  it('512 BatchAuthorize calls of 1,000 requests each in flight (~100 MB of requests): clean outcomes, RSS bounded, still serving', async () => {
    const t = tally();
    const batch = { requests: Array.from({ length: 1_000 }, (_, i) => ({ ...ALICE_P100, resource: `uon://payments/payment/p-${i}` })) };
    const rssBefore = rssBytes(server.pid)!;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssBytes(server.pid) ?? 0)), 50);
    let outcomes: Outcome[];
    try {
      outcomes = await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => authorize(i, batch, 5_000, 'BatchAuthorize')));
    } finally {
      clearInterval(sampler);
    }
    for (const o of outcomes) {
      t.add(STATUS_NAME[o.code]);
      expect(CLEAN.has(o.code), STATUS_NAME[o.code]).toBe(true);
      if (o.code === status.OK) expect(o.responses).toBe(1_000);
      if (o.code === status.RESOURCE_EXHAUSTED) shedSeen++;
    }
    // More heavy calls than --max-in-flight: some are shed at once, and the server counts every
    // refusal (also those whose caller had already given up: they show as DEADLINE_EXCEEDED here).
    expect(t.get('RESOURCE_EXHAUSTED')).toBeGreaterThan(0);
    const overloaded = await metricValue(server.http, 'charter_rejected_requests_total', 'reason="overloaded"');
    expect(overloaded).toBeGreaterThanOrEqual(shedSeen);
    process.stdout.write(`[reliability] shed: ${shedSeen} RESOURCE_EXHAUSTED seen by clients, ${overloaded} counted by the server\n`);
    t.report(`${IN_FLIGHT} BatchAuthorize x 1000`);
    const expired = await metricValue(server.http, 'charter_rejected_requests_total', 'reason="deadline_exceeded"');
    const batches = await metricValue(server.http, 'charter_decision_duration_seconds_count', 'rpc="BatchAuthorize"');
    process.stdout.write(`[reliability] batch overload, server side: ${batches} batches answered, ${expired} calls stopped at their deadline\n`);
    process.stdout.write(`[reliability] batch overload: RSS before ${Math.round(rssBefore / 1048576)} MB, peak ${Math.round(rssPeak / 1048576)} MB\n`);
    expect(rssPeak - rssBefore, 'RSS growth under 512 large batches in flight').toBeLessThan(1024 * 1024 * 1024);
    expect(server.child.exitCode).toBeNull();
    const after = await authorize(0, ALICE_P100, 10_000);
    expect(after).toMatchObject({ code: status.OK, decision: 'DECISION_ALLOW' });
  });
});

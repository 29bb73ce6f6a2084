/**
 * src/server/admission.ts on a real grpc-js server speaking the Charter proto: beyond
 * maxInFlight a call gets RESOURCE_EXHAUSTED before its handler runs, slots come back when calls
 * end (answered, failed, cancelled or past their deadline), and exempt methods (the
 * invalidation stream, health) are never refused. The handlers here hold each call open for a
 * while, as an Admin.Write waiting for a slow disk does, so calls really overlap.
 */
import { Metadata, Server, ServerCredentials, loadPackageDefinition, status, type Client, type ServiceError, type ChannelCredentials, credentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Admission, DEFAULT_MAX_IN_FLIGHT, exemptFromAdmission } from '../../src/server/admission.js';
import { charterPackageDefinition, serviceDefinition } from '../../src/server/proto.js';
import { sleep, waitFor } from './helpers.js';

interface Running {
  server: Server;
  authorization: Client;
  invalidation: Client;
  started: () => number;
  close(): Promise<void>;
}

async function start(admission: Admission, holdMs: number): Promise<Running> {
  const server = new Server({ interceptors: [admission.interceptor()] });
  let started = 0;
  server.addService(serviceDefinition('Authorization'), {
    Authorize: (_call: unknown, callback: (err: null, res: unknown) => void) => {
      started++;
      setTimeout(() => callback(null, { decision: 'DECISION_DENY', reason: 'held' }), holdMs);
    },
    BatchAuthorize: (_call: unknown, callback: (err: { code: number; details: string }) => void) => {
      started++;
      setTimeout(() => callback({ code: status.INTERNAL, details: 'failed on purpose' }), holdMs);
    },
  });
  server.addService(serviceDefinition('Invalidation'), {
    Subscribe: (call: { write(e: unknown): void; on(ev: string, f: () => void): void }) => {
      call.write({ flushAll: true, policyRevision: 'r', attributeRevision: 1 });
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const ns = loadPackageDefinition(charterPackageDefinition()) as unknown as { charter: { v1: Record<string, new (t: string, c: ChannelCredentials, o?: object) => Client> } };
  const authorization = new ns.charter.v1.Authorization(`127.0.0.1:${port}`, credentials.createInsecure());
  const invalidation = new ns.charter.v1.Invalidation(`127.0.0.1:${port}`, credentials.createInsecure(), { channelOverride: authorization.getChannel() });
  return {
    server,
    authorization,
    invalidation,
    started: () => started,
    async close() {
      authorization.close();
      await new Promise<void>((r) => server.tryShutdown(() => r()));
    },
  };
}

function call(c: Client, method: string, deadlineMs = 5_000): Promise<number> {
  return new Promise((resolve) => {
    (c as unknown as Record<string, (...a: unknown[]) => void>)[method].call(
      c,
      { actor: 'spiffe://a.test/x', action: 'read', resource: 'uon://a/b/c' },
      new Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err: ServiceError | null) => resolve(err ? err.code : status.OK),
    );
  });
}

describe('admission control (max in flight)', () => {
  let running: Running | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('refuses calls beyond the limit with RESOURCE_EXHAUSTED before their handler runs, and frees slots as calls end', async () => {
    const admission = new Admission(16);
    running = await start(admission, 300);
    const codes = await Promise.all(Array.from({ length: 64 }, () => call(running!.authorization, 'Authorize')));
    const ok = codes.filter((c) => c === status.OK).length;
    const shed = codes.filter((c) => c === status.RESOURCE_EXHAUSTED).length;
    expect(ok + shed).toBe(64);
    expect(ok).toBeGreaterThanOrEqual(16);
    expect(shed).toBeGreaterThan(0);
    expect(running.started(), 'refused calls never reach the handler').toBe(ok);
    expect(admission.peak).toBeLessThanOrEqual(16);
    expect(admission.rejected).toBe(shed);
    expect(admission.inFlight).toBe(0);
    // Slots came back: a full set of 16 is admitted again.
    const again = await Promise.all(Array.from({ length: 16 }, () => call(running!.authorization, 'Authorize')));
    expect(again.every((c) => c === status.OK)).toBe(true);
  });

  it('frees the slot of a call that fails, and of one whose caller gives up (deadline)', async () => {
    const admission = new Admission(4);
    running = await start(admission, 400);
    expect(await call(running.authorization, 'BatchAuthorize')).toBe(status.INTERNAL);
    expect(admission.inFlight).toBe(0);
    const gaveUp = await Promise.all(Array.from({ length: 4 }, () => call(running!.authorization, 'Authorize', 50)));
    expect(gaveUp.every((c) => c === status.DEADLINE_EXCEEDED)).toBe(true);
    await waitFor('slots of cancelled calls to come back', () => admission.inFlight === 0, 5_000);
    await sleep(450); // the held handlers finish too
    expect(admission.inFlight).toBe(0);
    const codes = await Promise.all(Array.from({ length: 4 }, () => call(running!.authorization, 'Authorize')));
    expect(codes.every((c) => c === status.OK)).toBe(true);
  });

  it('never refuses the invalidation stream or health checks, even when full', async () => {
    expect(exemptFromAdmission('/charter.v1.Invalidation/Subscribe')).toBe(true);
    expect(exemptFromAdmission('/grpc.health.v1.Health/Check')).toBe(true);
    expect(exemptFromAdmission('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo')).toBe(true);
    expect(exemptFromAdmission('/charter.v1.Authorization/Authorize')).toBe(false);
    expect(exemptFromAdmission('/charter.v1.Admin/Write')).toBe(false);
    const admission = new Admission(2);
    running = await start(admission, 500);
    const held = [call(running.authorization, 'Authorize'), call(running.authorization, 'Authorize')];
    await waitFor('both slots taken', () => admission.inFlight === 2);
    expect(await call(running.authorization, 'Authorize')).toBe(status.RESOURCE_EXHAUSTED);
    const event = await new Promise<unknown>((resolve, reject) => {
      const stream = (running!.invalidation as unknown as { Subscribe(r: unknown, m: Metadata): NodeJS.EventEmitter & { cancel(): void } }).Subscribe({}, new Metadata());
      stream.on('data', (e) => {
        resolve(e);
        stream.cancel();
      });
      stream.on('error', (e: ServiceError) => (e.code === status.CANCELLED ? undefined : reject(e)));
    });
    expect(event).toMatchObject({ flushAll: true });
    expect(await Promise.all(held)).toEqual([status.OK, status.OK]);
  });

  it('validates its limit and defaults to 256', () => {
    expect(new Admission().maxInFlight).toBe(DEFAULT_MAX_IN_FLIGHT);
    expect(DEFAULT_MAX_IN_FLIGHT).toBe(256);
    expect(() => new Admission(0)).toThrow(RangeError);
    expect(() => new Admission(1.5)).toThrow(RangeError);
  });
});

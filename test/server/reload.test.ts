/** Hot reload of the policy directory: good sets swap in and are pushed; broken ones are refused. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, copyPolicies, metricValue, startHarness, waitFor, type Harness } from './helpers.js';

const probe = { actor: 'spiffe://personnel.acme.test/eid/1005', action: 'inspect', resource: 'uon://reload/thing/1' };
const EXTRA_RULE = `
  - id: reload-probe
    description: Added by the hot reload test.
    effect: allow
    actors: "*"
    actions: [inspect]
    resources: ["uon://reload/thing/*"]
`;

describe('hot reload', () => {
  let h: Harness;
  let dir: string;
  let file: string;
  let original: string;
  const events: { policyRevision: string; flushAll: boolean }[] = [];
  let stream: ClientReadableStream<{ policyRevision: string; flushAll: boolean }>;

  beforeAll(async () => {
    dir = copyPolicies();
    file = join(dir, 'payments', 'platform.yaml');
    original = readFileSync(file, 'utf8');
    h = await startHarness({ policiesDir: dir });
    stream = (h.client().invalidation as unknown as { Subscribe(r: object): typeof stream }).Subscribe({});
    stream.on('data', (e) => events.push(e));
    stream.on('error', () => {});
    await waitFor('subscription', () => events.length > 0);
  });
  afterAll(async () => {
    stream?.cancel();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks up a changed file, swaps it in and pushes the new revision to subscribers', async () => {
    const first = h.server.decisionPoint.policyRevision;
    const before = await call<{ decision: string }>(h.client(), 'authorization', 'Authorize', probe);
    expect(before.decision).toBe('DECISION_DENY');

    writeFileSync(file, original + EXTRA_RULE);
    const revision = await waitFor('new revision', () => h.server.decisionPoint.policyRevision !== first && h.server.decisionPoint.policyRevision);
    const after = await call<{ decision: string; policyRevision: string; policyIds: string[] }>(h.client(), 'authorization', 'Authorize', probe);
    expect(after.decision).toBe('DECISION_ALLOW');
    expect(after.policyRevision).toBe(revision);
    expect(after.policyIds).toEqual(['payments/reload-probe']);
    const pushed = await waitFor('pushed revision', () => events.find((e) => e.policyRevision === revision));
    expect(pushed.flushAll).toBe(true);
    expect(await metricValue(h.http, 'charter_policy_reloads_total')).toBeGreaterThanOrEqual(1);
    expect(await metricValue(h.http, 'charter_policy_revision_info', `policy_revision="${revision}"`)).toBe(1);
  });

  it('rejects a broken set, logs its errors and keeps serving the last good one', async () => {
    const good = h.server.decisionPoint.policyRevision;
    const failuresBefore = await metricValue(h.http, 'charter_policy_reload_failures_total');
    writeFileSync(file, `${original + EXTRA_RULE}\n  - id: broken\n    effect: allow\n    actors: "*"\n    actions: [inspect]\n    resources: ["uon://reload/thing/*"]\n    condition: actor.region ==\n`);
    await waitFor('reload failure', async () => (await metricValue(h.http, 'charter_policy_reload_failures_total')) > failuresBefore);
    expect(h.server.decisionPoint.policyRevision).toBe(good);
    const res = await call<{ decision: string; policyRevision: string }>(h.client(), 'authorization', 'Authorize', probe);
    expect(res.decision).toBe('DECISION_ALLOW');
    expect(res.policyRevision).toBe(good);
    const logged = h.logs.find((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('policy reload rejected'));
    expect(logged).toBeDefined();
    expect(JSON.stringify(logged?.errors)).toMatch(/platform\.yaml:\d+:\d+/);
  });

  it('reloads on request (what SIGHUP does) once the file is fixed', async () => {
    writeFileSync(file, original);
    const outcome = await h.server.reload('test');
    expect(outcome.ok).toBe(true);
    const res = await call<{ decision: string }>(h.client(), 'authorization', 'Authorize', probe);
    expect(res.decision).toBe('DECISION_DENY');
  });
});

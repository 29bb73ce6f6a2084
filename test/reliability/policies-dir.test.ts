/**
 * The policy directory goes bad under a running `charter serve` (a child process, hot reload
 * on): a half-written YAML file, the directory deleted, a file that cannot be read. Each time
 * the reload is rejected (charter_policy_reload_failures_total goes up) and the last good set
 * keeps serving: Alice still gets ALLOW, which an empty or partial set would turn into a DENY.
 * When the directory is good again, the next reload takes it.
 *
 * "Unreadable": root ignores file modes, so as root the server runs as `nobody` (uid 65534)
 * for that test, and the file is chmod 000.
 */
import { chmodSync, chownSync, cpSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, unaryCall, type CharterClients } from '../../src/server/grpc-client.js';
import { ALICE, P100, PAYMENTS_POLICIES, metricValue, nodeRunnableBy, removeDir, spawnServe, tempDir, waitFor, type ChildServer } from './helpers.js';

const ALICE_P100 = { actor: ALICE, action: 'read', resource: P100 };
const ROOT = process.getuid?.() === 0;

interface Running {
  server: ChildServer;
  clients: CharterClients;
  policies: string;
}

async function start(dir: string, options: { uid?: number; node?: string } = {}): Promise<Running> {
  const policies = join(dir, 'policies');
  cpSync(PAYMENTS_POLICIES, join(policies, 'payments'), { recursive: true, filter: (src) => !src.endsWith('.test.yaml') });
  if (options.uid !== undefined) {
    chmodSync(dir, 0o755);
    for (const p of [policies, join(policies, 'payments')]) chownSync(p, options.uid, options.uid);
  }
  const server = await spawnServe(['--policies', policies], { uid: options.uid, node: options.node });
  const clients = connect({ target: server.target });
  return { server, clients, policies };
}

async function decision(r: Running): Promise<string> {
  const res = await unaryCall<{ decision: string }>(r.clients.authorization, 'Authorize', ALICE_P100, new Metadata(), 10_000);
  return res.decision;
}

const failures = (r: Running): Promise<number> => metricValue(r.server.http, 'charter_policy_reload_failures_total');
const reloads = (r: Running): Promise<number> => metricValue(r.server.http, 'charter_policy_reloads_total');

describe('a bad policy directory under a running server', () => {
  let running: Running | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    running?.clients.close();
    await running?.server.kill();
    removeDir(dir);
    running = undefined;
    dir = undefined;
  });

  it('a half-written (truncated) YAML file: rejected by the watcher-driven reload, the last good set keeps serving', async () => {
    dir = tempDir('policies-half');
    const r = (running = await start(dir));
    expect(await decision(r)).toBe('DECISION_ALLOW');
    const file = join(r.policies, 'payments', 'payments.yaml');
    const good = readFileSync(file, 'utf8');
    // Written in place, cut in the middle of a rule: what a crashed editor or a partial copy leaves.
    writeFileSync(file, good.slice(0, Math.floor(good.length / 2)));
    await waitFor('the reload to be rejected', async () => (await failures(r)) >= 1, 15_000);
    expect(await decision(r)).toBe('DECISION_ALLOW');
    await waitFor('the rejection in the log', () => /policy reload rejected .*still serving/.test(r.server.output()));
    // The good file back: taken by the next reload.
    const before = await reloads(r);
    writeFileSync(file, `${good}\n# touched\n`);
    await waitFor('the good set to be reloaded', async () => (await reloads(r)) > before, 15_000);
    expect(await decision(r)).toBe('DECISION_ALLOW');
  });

  it('the directory deleted: rejected, the last good set keeps serving; restored, SIGHUP reloads it', async () => {
    dir = tempDir('policies-gone');
    const r = (running = await start(dir));
    expect(await decision(r)).toBe('DECISION_ALLOW');
    const saved = join(dir, 'saved');
    renameSync(r.policies, saved);
    process.kill(r.server.pid, 'SIGHUP');
    await waitFor('the reload to be rejected', async () => (await failures(r)) >= 1, 15_000);
    await waitFor('the reason in the log', () => /policy directory does not exist/.test(r.server.output()));
    expect(await decision(r)).toBe('DECISION_ALLOW');
    // Back, with a change so the revision differs; SIGHUP takes it (the watcher may have died with the directory).
    renameSync(saved, r.policies);
    writeFileSync(join(r.policies, 'payments', 'extra.yaml'), 'apiVersion: charter.dev/v1\ndescription: added after the outage\n');
    const before = await reloads(r);
    process.kill(r.server.pid, 'SIGHUP');
    await waitFor('the restored set to be reloaded', async () => (await reloads(r)) > before, 15_000);
    expect(await decision(r)).toBe('DECISION_ALLOW');
  });

  it('a policy file that cannot be read (chmod 000; the server runs as nobody when we are root): rejected, the last good set keeps serving', async (ctx) => {
    const node = ROOT ? nodeRunnableBy(65534) : process.execPath;
    if (!node) ctx.skip('running as root and no node binary the user nobody may execute: chmod 000 cannot be tested (root ignores file modes)');
    dir = tempDir('policies-unreadable');
    const r = (running = await start(dir, ROOT ? { uid: 65534, node } : {}));
    expect(await decision(r)).toBe('DECISION_ALLOW');
    const file = join(r.policies, 'payments', 'payments.yaml');
    chmodSync(file, 0o000);
    process.kill(r.server.pid, 'SIGHUP');
    await waitFor('the reload to be rejected', async () => (await failures(r)) >= 1, 15_000);
    await waitFor('the reason in the log', () => /EACCES|permission denied/i.test(r.server.output()));
    expect(await decision(r)).toBe('DECISION_ALLOW');
    chmodSync(file, 0o644);
    writeFileSync(join(r.policies, 'payments', 'extra.yaml'), 'apiVersion: charter.dev/v1\ndescription: readable again\n');
    if (ROOT) chownSync(join(r.policies, 'payments', 'extra.yaml'), 65534, 65534);
    const before = await reloads(r);
    process.kill(r.server.pid, 'SIGHUP');
    await waitFor('the readable set to be reloaded', async () => (await reloads(r)) > before, 15_000);
    expect(await decision(r)).toBe('DECISION_ALLOW');
  });

  it('at start-up, a directory that does not compile is refused: exit 1 with the diagnostics, nothing served', async () => {
    dir = tempDir('policies-bad-start');
    const policies = join(dir, 'policies');
    cpSync(PAYMENTS_POLICIES, join(policies, 'payments'), { recursive: true, filter: (src) => !src.endsWith('.test.yaml') });
    const file = join(policies, 'payments', 'payments.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 200));
    await expect(spawnServe(['--policies', policies])).rejects.toThrow(/exited \(1\) before serving[\s\S]*payments\.yaml:\d+:\d+/);
    rmSync(policies, { recursive: true });
    await expect(spawnServe(['--policies', policies])).rejects.toThrow(/exited \(1\) before serving[\s\S]*does not exist/);
  });
});

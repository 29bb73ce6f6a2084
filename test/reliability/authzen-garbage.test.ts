/**
 * AuthZEN HTTP on inputs test/authzen/edges.test.ts does not send (it covers arbitrary JSON
 * values, 413, 400 limits and the API key): bodies that are not JSON at all (random bytes,
 * invalid UTF-8, truncated JSON), JSON nested 100,000 levels deep, prototype-polluting keys,
 * odd content types, methods and paths, and hostile X-Request-ID values. Always a 4xx (or a 200
 * with a decision), never a 5xx, and never an ALLOW for a question that is not Alice's.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, send, startAuthzen, type Harness } from '../authzen/helpers.js';
import { ALICE, P100, tally } from './helpers.js';

const PATHS = ['/access/v1/evaluation', '/access/v1/evaluations', '/access/v1/search/subject', '/access/v1/search/resource', '/access/v1/search/action'];
const ALICE_READS = { subject: { type: 'spiffe', id: ALICE }, action: { name: 'read' }, resource: { type: 'uon', id: P100 } };

let h: Harness;
beforeAll(async () => {
  h = await startAuthzen();
});
afterAll(async () => {
  await h?.close();
});

function never5xx(status: number, what: string): void {
  expect(status, what).toBeGreaterThanOrEqual(200);
  expect(status, what).toBeLessThan(500);
}

describe('AuthZEN bodies that are not JSON, or hostile JSON', () => {
  it('random bytes, invalid UTF-8 and truncated JSON on every endpoint: 4xx, never 5xx (property-based)', async () => {
    const valid = JSON.stringify({ ...ALICE_READS, evaluations: [{ resource: { type: 'uon', id: P100 } }] });
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.nat(valid.length - 1).map((n) => valid.slice(0, n)),
      fc.tuple(fc.nat(valid.length - 1), fc.uint8Array({ minLength: 1, maxLength: 4 })).map(([n, b]) => Buffer.concat([Buffer.from(valid.slice(0, n)), Buffer.from(b), Buffer.from(valid.slice(n))])),
    );
    const t = tally();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATHS), body, async (path, b) => {
        const r = await post(h, path, b);
        t.add(String(r.status));
        never5xx(r.status, `${path} ${JSON.stringify(b.toString()).slice(0, 200)}`);
        // Only a complete, untouched question can be Alice's ALLOW.
        if (r.status === 200 && r.json?.decision === true) expect(typeof b === 'string' ? b : b.toString('latin1')).toContain(ALICE);
      }),
      { numRuns: 250 },
    );
    t.report('AuthZEN non-JSON / truncated / corrupted bodies (status counts)');
  });

  it('JSON nested 100,000 levels deep, huge numbers, duplicate keys and prototype keys: 4xx or a correct decision', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const deepObject = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);
    for (const path of PATHS) {
      never5xx((await post(h, path, deep)).status, `${path} deep array`);
      never5xx((await post(h, path, `{"subject":${deepObject}}`)).status, `${path} deep object`);
      never5xx((await post(h, path, `{"subject":{"type":"spiffe","id":"${ALICE}","properties":${deepObject}},"action":{"name":"read"},"resource":{"type":"uon","id":"${P100}"}}`)).status, `${path} deep properties`);
    }
    const big = await post(h, PATHS[0], `{"subject":{"type":"spiffe","id":"${ALICE}"},"action":{"name":"read"},"resource":{"type":"uon","id":"${P100}"},"context":{"n":1e999999,"m":-1e400,"k":123456789012345678901234567890}}`);
    never5xx(big.status, 'huge numbers');
    // Duplicate keys: JSON.parse keeps the last; the question is then Bob's, not Alice's.
    const dup = await post(h, PATHS[0], `{"subject":{"type":"spiffe","id":"${ALICE}","id":"spiffe://personnel.acme.test/eid/9999"},"action":{"name":"read"},"resource":{"type":"uon","id":"${P100}"}}`);
    expect(dup.status).toBe(200);
    expect(dup.json.decision).toBe(false);
    // __proto__ / constructor keys are data, not a way to change what the server sees.
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const r = await post(h, PATHS[0], `{"${key}":{"subject":{"type":"spiffe","id":"${ALICE}"}},"subject":{"type":"spiffe","id":"spiffe://x.test/nobody","properties":{"${key}":{"groups":["payment-support"]}}},"action":{"name":"read"},"resource":{"type":"uon","id":"${P100}"},"context":{"${key}":{"country":"GB"}}}`);
      never5xx(r.status, key);
      if (r.status === 200) expect(r.json.decision, key).toBe(false);
    }
    expect(({} as Record<string, unknown>).groups).toBeUndefined(); // nothing leaked into Object.prototype here
    // And the real question still gets its ALLOW.
    expect((await post(h, PATHS[0], ALICE_READS)).json).toEqual({ decision: true });
  });

  it('odd content types, methods, paths and X-Request-ID values: 4xx, never 5xx', async () => {
    const body = JSON.stringify(ALICE_READS);
    const t = tally();
    for (const type of ['text/plain', 'application/xml', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/json\u00ff']) {
      const r = await send(h, 'POST', PATHS[0], body, { 'content-type': type });
      t.add(`content-type:${r.status}`);
      never5xx(r.status, `content-type ${type}`);
    }
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE']) {
      for (const path of PATHS) {
        const r = await send(h, method, path, method === 'GET' || method === 'HEAD' || method === 'TRACE' ? undefined : body);
        t.add(`${method}:${r.status}`);
        never5xx(r.status, `${method} ${path}`);
      }
    }
    for (const path of ['/access/v1/evaluation/', '/access/v1/evaluation?x=1', '/access/v1/evaluation/../evaluations', '/ACCESS/V1/EVALUATION', '/access//v1/evaluation', '/%00', '/access/v1/evaluation%2f', `/${'a'.repeat(8_000)}`, '/.well-known/authzen-configuration/x']) {
      const r = await send(h, 'POST', path, body);
      t.add(`path:${r.status}`);
      never5xx(r.status, path);
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c)), maxLength: 300 }), async (id) => {
        const r = await send(h, 'POST', PATHS[0], body, { 'x-request-id': id });
        never5xx(r.status, `x-request-id ${JSON.stringify(id)}`);
        if (r.status === 200) expect(r.json).toEqual({ decision: true });
        const echoed = r.headers['x-request-id'];
        if (typeof echoed === 'string') expect(echoed).not.toMatch(/[\r\n]/);
      }),
      { numRuns: 100 },
    );
    t.report('AuthZEN content types / methods / paths (method:status counts)');
  });
});

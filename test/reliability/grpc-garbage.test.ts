/**
 * Bad bytes at the gRPC edge, sent with a grpc-js client whose serializer is the identity (the
 * bytes reach the server exactly as generated): random and truncated protobuf, valid messages
 * with hostile field contents (oversized, odd Unicode, invalid UTF-8, control characters, deep
 * Structs), and raw garbage on the TCP sockets of both ports. The server never crashes, never
 * hangs a call, never answers a malformed question with ALLOW, and still answers a normal
 * Authorize afterwards.
 */
import { connect as netConnect } from 'node:net';
import { Client, Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import type protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthzen, type Harness } from '../authzen/helpers.js';
import { loadContract, rawStruct } from '../server/raw-grpc.js';
import { ALICE, P100, sleep, tally } from './helpers.js';

const AUTHORIZE = '/charter.v1.Authorization/Authorize';
const BATCH = '/charter.v1.Authorization/BatchAuthorize';
const STATUS_NAME = Object.fromEntries(Object.entries(status).map(([k, v]) => [v, k])) as Record<number, string>;

let h: Harness;
let raw: Client;
let root: protobuf.Root;
let AuthorizeRequest: protobuf.Type;
let AuthorizeResponse: protobuf.Type;
let BatchRequest: protobuf.Type;

beforeAll(async () => {
  h = await startAuthzen();
  root = await loadContract();
  AuthorizeRequest = root.lookupType('charter.v1.AuthorizeRequest');
  AuthorizeResponse = root.lookupType('charter.v1.AuthorizeResponse');
  BatchRequest = root.lookupType('charter.v1.BatchAuthorizeRequest');
  raw = new Client(`127.0.0.1:${h.server.grpcPort}`, credentials.createInsecure());
});

afterAll(async () => {
  raw?.close();
  await h?.close();
});

interface Outcome {
  code: number;
  details: string;
  decision?: string;
}

/** Sends `bytes` as the request message; resolves with the status (and decision when OK). */
function sendRaw(path: string, bytes: Uint8Array, deadlineMs = 10_000, client: Client = raw): Promise<Outcome> {
  return new Promise((resolve) => {
    client.makeUnaryRequest<Buffer, Buffer>(
      path,
      (b) => b,
      (b) => b,
      Buffer.from(bytes),
      new Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err: ServiceError | null, res?: Buffer) => {
        if (err) return resolve({ code: err.code, details: err.details });
        let decision: string | undefined = 'BATCH';
        if (path === AUTHORIZE && res) {
          decision = AuthorizeResponse.toObject(AuthorizeResponse.decode(res), { enums: String }).decision as string;
        }
        resolve({ code: status.OK, details: '', decision });
      },
    );
  });
}

function encodeAuthorize(o: Record<string, unknown>): Uint8Array {
  return AuthorizeRequest.encode(AuthorizeRequest.fromObject(o)).finish();
}

const aliceReadsP100 = (): Uint8Array => encodeAuthorize({ actor: ALICE, action: 'read', resource: P100 });

async function normalAuthorizeAllows(): Promise<void> {
  const r = await sendRaw(AUTHORIZE, aliceReadsP100());
  expect(r).toMatchObject({ code: status.OK, decision: 'DECISION_ALLOW' });
}

/**
 * What a message that is not a well-formed question may get: an answer, or a clean refusal.
 * Bytes that do not decode as protobuf get INVALID_ARGUMENT (src/server/undecodable.ts), never
 * grpc-js's INTERNAL "Error deserializing request".
 */
function acceptable(o: Outcome): boolean {
  if (o.code === status.OK) return o.decision === 'DECISION_DENY' || o.decision === 'DECISION_ALLOW' || o.decision === 'BATCH';
  return o.code === status.INVALID_ARGUMENT || o.code === status.RESOURCE_EXHAUSTED;
}

function record(t: ReturnType<typeof tally>, o: Outcome): void {
  t.add(o.code === status.OK ? `OK/${o.decision}` : STATUS_NAME[o.code]);
}

/** Encodes a length-delimited field by hand (protobufjs would refuse some of these payloads). */
function field(no: number, payload: Uint8Array): Buffer {
  const len: number[] = [];
  let n = payload.length;
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([(no << 3) | 2, ...len]), Buffer.from(payload)]);
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return out;
}

/**
 * A context Struct {a: {a: {… depth levels …: true}}} as raw bytes. Each level only adds a
 * prefix (tag + length), so the levels are computed inside out and joined once.
 */
function nestedStruct(depth: number): Buffer {
  let struct = field(1, Buffer.concat([field(1, Buffer.from('a')), field(2, Buffer.from([0x20, 0x01]))])); // {a: true}
  const prefixes: Buffer[] = [];
  let length = struct.length;
  for (let i = 1; i < depth; i++) {
    const valueLength = 1 + varint(length).length + length; // Value{struct_value: struct}
    const entryLength = 3 + 1 + varint(valueLength).length + valueLength; // {key: "a", value}
    prefixes.push(Buffer.from([0x0a, ...varint(entryLength), 0x0a, 0x01, 0x61, 0x12, ...varint(valueLength), 0x2a, ...varint(length)]));
    length = 1 + varint(entryLength).length + entryLength;
  }
  struct = Buffer.concat([...prefixes.reverse(), struct]);
  expect(struct.length).toBe(length);
  return struct;
}

describe('random and truncated protobuf on Authorize and BatchAuthorize', () => {
  it('bytes that are not protobuf get INVALID_ARGUMENT naming the message, on every method', async () => {
    // Field 4 (context, a Struct) claiming 3 bytes, whose inner field then overruns them.
    const broken = Uint8Array.from([0x22, 0x03, 0x0a, 0x01]);
    for (const path of [AUTHORIZE, BATCH]) {
      const o = await sendRaw(path, broken);
      expect(o.code, JSON.stringify(o)).toBe(status.INVALID_ARGUMENT);
      expect(o.details).toMatch(/^request is not a valid \/charter\.v1\.Authorization\/(Batch)?Authorize message: /);
    }
    await normalAuthorizeAllows();
  });

  it('random bytes: a status or a decision for every call, never a hang or a crash', async () => {
    const t = tally();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(AUTHORIZE, BATCH), fc.uint8Array({ maxLength: 512 }), async (path, bytes) => {
        const o = await sendRaw(path, bytes);
        record(t, o);
        expect(acceptable(o), JSON.stringify(o)).toBe(true);
      }),
      { numRuns: 200 },
    );
    t.report('random protobuf bytes');
    await normalAuthorizeAllows();
  });

  it('a valid request cut anywhere or with bytes flipped: never ALLOW for a cut question, never a hang', async () => {
    const full = encodeAuthorize({
      actor: ALICE,
      action: 'read',
      resource: P100,
      context: rawStruct({ country: 'GB', ip: '10.1.2.3', nested: { list: [1, 'two', null, true, { deep: 'x' }] } }),
      actorClaims: rawStruct({ role: 'admin' }),
    });
    const t = tally();
    for (let cut = 0; cut < full.length; cut++) {
      const o = await sendRaw(AUTHORIZE, full.subarray(0, cut));
      record(t, o);
      expect(acceptable(o), `cut at ${cut}: ${JSON.stringify(o)}`).toBe(true);
    }
    await fc.assert(
      fc.asyncProperty(fc.nat(full.length - 1), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const copy = Buffer.from(full);
        copy[at] ^= xor;
        const o = await sendRaw(AUTHORIZE, copy);
        record(t, o);
        expect(acceptable(o), JSON.stringify(o)).toBe(true);
      }),
      { numRuns: 100 },
    );
    t.report('truncated / bit-flipped AuthorizeRequest');
    // Cut before the resource is complete, the question is not Alice's: never an ALLOW.
    const cutInResource = await sendRaw(AUTHORIZE, full.subarray(0, Buffer.from(full).indexOf(Buffer.from(P100)) + 5));
    expect(cutInResource.decision).not.toBe('DECISION_ALLOW');
    await normalAuthorizeAllows();
  });
});

describe('hostile field contents in well-formed messages', () => {
  it('random Unicode, control characters and lone surrogates in the identifiers: INVALID_ARGUMENT or a decision', async () => {
    const t = tally();
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: fc.constantFrom('\u0000', '\u0007', '\u001b', '\u007f', '\u0085', '\u2028', '\u202e', '\ufeff', '\ud800', '\udfff', '😀', ' ', '/', ':', 'a'), maxLength: 20 }),
      fc.constantFrom(ALICE, P100, 'read', 'spiffe://', 'uon://', 'spiffe://a/../b', 'uon:///x', ' read', 'read '),
    );
    await fc.assert(
      fc.asyncProperty(text, text, text, fc.option(fc.jsonValue({ maxDepth: 3 })), async (actor, action, resource, context) => {
        const message: Record<string, unknown> = { actor, action, resource };
        if (context && typeof context === 'object' && !Array.isArray(context)) message.context = rawStruct(context as Record<string, unknown>);
        const o = await sendRaw(AUTHORIZE, encodeAuthorize(message));
        record(t, o);
        expect(acceptable(o), JSON.stringify(o)).toBe(true);
        expect(o.code, 'a well-formed message always decodes').not.toBe(status.INTERNAL);
        // A control character in an identifier is never decided.
        if (/[\u0000-\u001f\u007f-\u009f]/.test(actor + action + resource)) expect(o.code).toBe(status.INVALID_ARGUMENT);
      }),
      { numRuns: 100 },
    );
    t.report('hostile identifiers / contexts');
  });

  it('invalid UTF-8 in a string field is decoded leniently and then refused or denied, never allowed', async () => {
    const actor = field(1, Buffer.from([0x73, 0x70, 0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]));
    const rest = Buffer.concat([field(2, Buffer.from('read')), field(3, Buffer.from(P100))]);
    const o = await sendRaw(AUTHORIZE, Buffer.concat([actor, rest]));
    expect(o.code === status.INVALID_ARGUMENT || (o.code === status.OK && o.decision === 'DECISION_DENY'), JSON.stringify(o)).toBe(true);
    // Alice's id with an invalid byte appended is not Alice.
    const almostAlice = Buffer.concat([field(1, Buffer.concat([Buffer.from(ALICE), Buffer.from([0xff])])), rest]);
    const o2 = await sendRaw(AUTHORIZE, almostAlice);
    expect(o2.decision).not.toBe('DECISION_ALLOW');
  });

  it('oversized fields and messages: INVALID_ARGUMENT / RESOURCE_EXHAUSTED, and the server carries on', async () => {
    const big = (n: number): string => 'x'.repeat(n);
    expect((await sendRaw(AUTHORIZE, encodeAuthorize({ actor: `spiffe://a.test/${big(2_000)}`, action: 'read', resource: P100 }))).code).toBe(status.INVALID_ARGUMENT);
    expect((await sendRaw(AUTHORIZE, encodeAuthorize({ actor: ALICE, action: big(1_025), resource: P100 }))).code).toBe(status.INVALID_ARGUMENT);
    // 3-byte characters: 400 of them are 1,200 UTF-8 bytes, over the 1,024-byte limit.
    expect((await sendRaw(AUTHORIZE, encodeAuthorize({ actor: ALICE, action: 'read', resource: `uon://p/${'€'.repeat(400)}` }))).code).toBe(status.INVALID_ARGUMENT);
    // A 2 MiB message (over the 1 MiB limit) is refused before it is decoded.
    const huge = await sendRaw(AUTHORIZE, encodeAuthorize({ actor: ALICE, action: 'read', resource: P100, context: rawStruct({ blob: big(2 * 1024 * 1024) }) }));
    expect(huge.code).toBe(status.RESOURCE_EXHAUSTED);
    // A context of 900 KiB in 30,000 keys (under the limit) is decided.
    const wide = Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`k${i}`, 'v'.repeat(20)]));
    const wideAnswer = await sendRaw(AUTHORIZE, encodeAuthorize({ actor: ALICE, action: 'read', resource: P100, context: rawStruct(wide) }));
    expect(wideAnswer.code).toBe(status.OK);
    // 1,001 requests in one batch.
    const many = BatchRequest.encode(BatchRequest.fromObject({ requests: Array.from({ length: 1_001 }, () => ({ actor: ALICE, action: 'read', resource: P100 })) })).finish();
    const batch = await sendRaw(BATCH, many);
    expect(batch.code).toBe(status.INVALID_ARGUMENT);
    expect(batch.details).toContain('at most 1000');
    await normalAuthorizeAllows();
  });

  it('a Struct nested 10 to 20,000 levels deep: a decision or a refusal, no stack overflow that takes the server down', async () => {
    const t = tally();
    for (const depth of [10, 100, 2_000, 20_000]) {
      const bytes = Buffer.concat([aliceReadsP100(), field(4, nestedStruct(depth))]);
      const o = await sendRaw(AUTHORIZE, bytes);
      record(t, o);
      expect(acceptable(o), `depth ${depth}: ${JSON.stringify(o)}`).toBe(true);
    }
    t.report('deeply nested Struct contexts (10, 100, 2k, 20k levels)');
    await normalAuthorizeAllows();
  });
});

describe('raw garbage on the TCP ports', () => {
  /** Opens a socket, writes `chunks`, waits for the server to answer or close, gives up after `ms`. */
  function blast(port: number, chunks: Buffer[], ms = 1_000): Promise<{ received: number; closedByServer: boolean }> {
    return new Promise((resolve) => {
      const socket = netConnect(port, '127.0.0.1');
      let received = 0;
      let closedByServer = false;
      socket.on('data', (d) => (received += d.length));
      socket.on('error', () => (closedByServer = true));
      socket.on('end', () => (closedByServer = true));
      socket.on('connect', () => {
        for (const c of chunks) socket.write(c);
      });
      const timer = setTimeout(() => socket.destroy(), ms);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ received, closedByServer });
      });
    });
  }

  const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

  it('the gRPC port survives random bytes, a preface followed by garbage frames, and idle half-open connections', async () => {
    const port = h.server.grpcPort;
    const samples = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 4096 }), 40);
    let sent = 0;
    await Promise.all(samples.map(async (bytes, i) => {
      await blast(port, i % 2 === 0 ? [Buffer.from(bytes)] : [PREFACE, Buffer.from(bytes)], 500);
      sent++;
    }));
    // A HEADERS frame claiming 16 MiB and a SETTINGS frame with a bogus length.
    await blast(port, [PREFACE, Buffer.from([0xff, 0xff, 0xff, 0x01, 0x04, 0, 0, 0, 1, 0xde, 0xad]), Buffer.from([0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5])]);
    // Connections that only send half a preface and sit there, while a normal call goes through.
    const idle = Array.from({ length: 20 }, () => netConnect(port, '127.0.0.1').on('error', () => {}));
    for (const s of idle) s.write(PREFACE.subarray(0, 10));
    try {
      await normalAuthorizeAllows();
    } finally {
      for (const s of idle) s.destroy();
    }
    expect(sent).toBe(40);
    process.stdout.write(`[reliability] gRPC port: ${sent} random-byte connections + 1 bogus-frame + 20 half-open; Authorize still answered\n`);
  });

  it('the HTTP port survives random bytes, oversized headers and broken chunked bodies, and answers afterwards', async () => {
    const port = h.port;
    const samples = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 4096 }), 40);
    await Promise.all(samples.map((bytes) => blast(port, [Buffer.from(bytes)], 500)));
    const head = await blast(port, [Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`)], 5_000);
    expect(head.received > 0 || head.closedByServer, 'oversized headers: answered (431) or closed by the server').toBe(true);
    await blast(port, [Buffer.from('POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n')]);
    await blast(port, [Buffer.from('POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"sub')], 300);
    // Slowloris-style: 20 connections holding half a request line.
    const idle = Array.from({ length: 20 }, () => netConnect(port, '127.0.0.1').on('error', () => {}));
    for (const s of idle) s.write('POST /access/v1/evaluation HTTP/1.1\r\nHost');
    try {
      await sleep(50);
      const health = await fetch(`${h.base}/healthz`);
      expect(health.status).toBe(200);
      const evaluation = await fetch(`${h.base}/access/v1/evaluation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: { type: 'spiffe', id: ALICE }, action: { name: 'read' }, resource: { type: 'uon', id: P100 } }),
      });
      expect(evaluation.status).toBe(200);
      await normalAuthorizeAllows();
    } finally {
      for (const s of idle) s.destroy();
    }
    process.stdout.write('[reliability] HTTP port: 40 random-byte connections + 70 KB header + broken chunked + short body + 20 half-open; still answering\n');
  });
});

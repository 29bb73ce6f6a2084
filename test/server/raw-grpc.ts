/**
 * An independent gRPC client: protobufjs compiles the .proto files itself and node:http2 carries
 * the gRPC framing. Nothing here comes from src/ or from grpc-js, so a test using it checks the
 * wire contract, not our own encoding.
 */
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));

export async function loadContract(): Promise<protobuf.Root> {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : PROTO_ROOT + target);
  // protobufjs ships google/protobuf/struct.proto as a common definition.
  await root.load(['charter/v1/authorization.proto', 'charter/v1/admin.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

export interface RawResult {
  status: number;
  message: string;
  body?: Record<string, unknown>;
}

export class RawGrpcClient {
  private readonly session: ClientHttp2Session;

  constructor(
    private readonly root: protobuf.Root,
    authority: string,
  ) {
    this.session = connect(`http://${authority}`);
    this.session.on('error', () => {});
  }

  /** Calls /<service>/<method> with a plain-object request (protobufjs JSON form). */
  unary(service: string, method: string, request: Record<string, unknown>, headers: Record<string, string> = {}): Promise<RawResult> {
    const svc = this.root.lookupService(service);
    const m = svc.methods[method];
    m.resolve();
    const reqType = m.resolvedRequestType!;
    const resType = m.resolvedResponseType!;
    const err = reqType.verify(request);
    if (err) return Promise.reject(new Error(err));
    const payload = reqType.encode(reqType.fromObject(request)).finish();
    const frame = Buffer.alloc(5 + payload.length);
    frame.writeUInt8(0, 0);
    frame.writeUInt32BE(payload.length, 1);
    Buffer.from(payload).copy(frame, 5);
    const path = `/${svc.fullName.replace(/^\./, '')}/${method}`;
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: path,
        'content-type': 'application/grpc+proto',
        te: 'trailers',
        ...headers,
      });
      const chunks: Buffer[] = [];
      let headerStatus: string | undefined;
      let headerMessage: string | undefined;
      stream.on('response', (h) => {
        headerStatus = h['grpc-status'] as string | undefined;
        headerMessage = h['grpc-message'] as string | undefined;
      });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('trailers', (t) => {
        headerStatus = (t['grpc-status'] as string | undefined) ?? headerStatus;
        headerMessage = (t['grpc-message'] as string | undefined) ?? headerMessage;
      });
      stream.on('error', reject);
      stream.on('close', () => {
        const status = Number(headerStatus ?? 2);
        const message = decodeURIComponent(headerMessage ?? '');
        const data = Buffer.concat(chunks);
        if (status !== 0 || data.length < 5) return resolve({ status, message });
        const len = data.readUInt32BE(1);
        const decoded = resType.decode(data.subarray(5, 5 + len));
        resolve({ status, message, body: resType.toObject(decoded, { enums: String, longs: Number, defaults: true }) as Record<string, unknown> });
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}

/** JSON value → google.protobuf.Value in protobufjs object form. */
export function rawValue(v: unknown): Record<string, unknown> {
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(rawValue) } };
  return { structValue: rawStruct(v as Record<string, unknown>) };
}

export function rawStruct(o: Record<string, unknown>): Record<string, unknown> {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, rawValue(v)])) };
}

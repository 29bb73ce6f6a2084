/**
 * The HTTP side of the server (metrics, health, and later AuthZEN) on `node:http` with a small
 * route table: exact paths, one handler per method. Other transports add routes with
 * `router.add(...)` before or after the server starts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'OPTIONS';
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class HttpRouter {
  private readonly routes = new Map<string, Map<string, RouteHandler>>();

  /** Registers `handler` for `method path` (exact path, query string ignored). */
  add(method: HttpMethod, path: string, handler: RouteHandler): this {
    let byMethod = this.routes.get(path);
    if (!byMethod) {
      byMethod = new Map();
      this.routes.set(path, byMethod);
    }
    if (byMethod.has(method)) throw new Error(`HTTP route ${method} ${path} is already registered`);
    byMethod.set(method, handler);
    if (method === 'GET' && !byMethod.has('HEAD')) byMethod.set('HEAD', handler);
    return this;
  }

  has(method: HttpMethod, path: string): boolean {
    return this.routes.get(path)?.has(method) ?? false;
  }

  /** Answers one request: 404 for an unknown path, 405 (with Allow) for an unknown method. */
  async handle(req: IncomingMessage, res: ServerResponse, logger?: Logger): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const byMethod = this.routes.get(path);
    if (!byMethod) return sendJson(res, 404, { error: `no route for ${path}` });
    const handler = byMethod.get(req.method ?? 'GET');
    if (!handler) {
      res.setHeader('Allow', [...byMethod.keys()].join(', '));
      return sendJson(res, 405, { error: `method ${req.method} not allowed on ${path}` });
    }
    try {
      await handler(req, res);
    } catch (err) {
      if (err instanceof HttpError) {
        if (!res.headersSent) sendJson(res, err.status, { error: err.message });
        else res.end();
        return;
      }
      logger?.error({ err, path }, 'HTTP handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.end();
    }
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Reads and parses a JSON body of at most `limitBytes`; throws HttpError 413 / 415 / 400 with a
 * message a caller can act on.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes = 1024 * 1024): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/(.+\+)?json\b/i.test(type)) {
    throw new HttpError(415, `expected content-type application/json, got ${type}`);
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw new HttpError(413, `body larger than ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new HttpError(413, `body larger than ${limitBytes} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
}

export interface HttpServerHandle {
  readonly server: Server;
  readonly router: HttpRouter;
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(router: HttpRouter, host: string, port: number, logger?: Logger): Promise<HttpServerHandle> {
  const server = createServer((req, res) => {
    void router.handle(req, res, logger);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    router,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Connections with a request in flight get a moment, then go.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      }),
  };
}

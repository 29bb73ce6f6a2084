/**
 * A TCP proxy to a local port that a test can break the way networks break: `cut()` resets
 * every connection and refuses new ones (until `restore()`); `blackhole()` silently drops all
 * data in both directions and leaves the connections open.
 */
import { createServer, connect as netConnect, type Server as NetServer, type Socket } from 'node:net';
import { CharterClient, type CharterClientOptions } from '../../src/client/index.js';
import { ALICE, ALICE_ATTRIBUTES, startServer, writeEntity, type Harness } from '../client/helpers.js';

export interface TcpProxy {
  port: number;
  cut(): void;
  restore(): void;
  blackhole(): void;
  close(): Promise<void>;
}

export async function tcpProxy(port: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let open = true;
  let dropping = false;
  const server: NetServer = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = netConnect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', (d) => dropping || upstream.write(d));
    upstream.on('data', (d) => dropping || client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    cut() {
      open = false;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore() {
      open = true;
      dropping = false;
    },
    blackhole() {
      dropping = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A test server with the payments data, a proxy in front of it, and a ready client through the proxy. */
export interface ProxiedClient {
  h: Harness;
  proxy: TcpProxy;
  client: CharterClient;
  /** Closes all three; puts Alice's attributes back first (the stream tests revoke her). */
  close(): Promise<void>;
}

export async function clientThroughProxy(options: Omit<CharterClientOptions, 'target'>): Promise<ProxiedClient> {
  const h = await startServer();
  const proxy = await tcpProxy(h.server.grpcPort);
  const client = new CharterClient({ target: `127.0.0.1:${proxy.port}`, cache: { maxEntries: 100, ttlMs: 600_000 }, reconnect: { initialMs: 20, maxMs: 200 }, ...options });
  if (!(await client.ready(10_000))) throw new Error('the client did not connect through the proxy');
  return {
    h,
    proxy,
    client,
    async close() {
      client.close();
      await proxy.close();
      await writeEntity(h, ALICE, ALICE_ATTRIBUTES).catch(() => undefined);
      await h.close();
    },
  };
}

import { describe, expect, it } from 'vitest';
import { parseSidecarArgs } from '../../src/sidecar/config.js';

describe('charter sidecar settings', () => {
  it('needs --upstream and fills in the defaults', () => {
    expect(parseSidecarArgs([], {})).toMatchObject({ kind: 'error', message: expect.stringContaining('--upstream') });
    const r = parseSidecarArgs(['--upstream', 'charter.svc:50051'], {});
    expect(r).toEqual({
      kind: 'ok',
      config: expect.objectContaining({ upstream: 'charter.svc:50051', listen: '127.0.0.1:50151', httpPort: -1, httpHost: '127.0.0.1', staleAllowMs: 1000, deadlineMs: 500, tls: undefined }),
    });
  });

  it('reads the environment, and flags win over it', () => {
    const env = { CHARTER_UPSTREAM: 'a:1', CHARTER_SIDECAR_LISTEN: 'unix:/tmp/s.sock', CHARTER_LOG_LEVEL: 'warn', CHARTER_STALE_ALLOW_MS: '250' };
    const r = parseSidecarArgs(['--upstream', 'b:2', '--http-port', '0'], env);
    expect(r.kind === 'ok' && r.config).toMatchObject({ upstream: 'b:2', listen: 'unix:/tmp/s.sock', logLevel: 'warn', staleAllowMs: 250, httpPort: 0, httpHost: '127.0.0.1' });
  });

  it('accepts [v6]:port and --http-port=-1, and says what is wrong otherwise', () => {
    expect(parseSidecarArgs(['--upstream', 'a:1', '--listen', '[::1]:0', '--http-port=-1'], {})).toMatchObject({ kind: 'ok', config: { listen: '[::1]:0', httpHost: '::1', httpPort: -1 } });
    expect(parseSidecarArgs(['--upstream', 'nope'], {})).toMatchObject({ kind: 'error', message: expect.stringContaining('HOST:PORT') });
    expect(parseSidecarArgs(['--upstream', 'a:1', '--listen', 'unix:'], {})).toMatchObject({ kind: 'error' });
    expect(parseSidecarArgs(['--upstream', 'a:1', '--deadline-ms', 'soon'], {})).toMatchObject({ kind: 'error', message: expect.stringContaining('--deadline-ms') });
    expect(parseSidecarArgs(['--upstream', 'a:1', '--tls-cert', 'c.pem'], {})).toMatchObject({ kind: 'error', message: expect.stringContaining('--tls-key') });
    expect(parseSidecarArgs(['--upstream', 'a:1', '--bogus'], {})).toMatchObject({ kind: 'error' });
    expect(parseSidecarArgs(['--help'], {})).toEqual({ kind: 'help' });
  });

  it('turns on TLS to the upstream with a CA', () => {
    const r = parseSidecarArgs(['--upstream', 'a:1'], { CHARTER_UPSTREAM_TLS_CA: '/etc/ca.pem' });
    expect(r.kind === 'ok' && r.config.tls).toEqual({ ca: '/etc/ca.pem', cert: undefined, key: undefined, serverName: undefined });
  });
});

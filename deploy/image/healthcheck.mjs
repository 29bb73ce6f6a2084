// Container HEALTHCHECK for the Charter image: asks the server's own HTTP /healthz, with node
// itself (slim images have no curl or wget). Exit 0 = healthy, 1 = unhealthy.
//
// CHARTER_HOST is where the server listens; a wildcard address (or none) is reached on loopback.
const configuredHost = process.env.CHARTER_HOST ?? '';
const wildcard = configuredHost === '' || configuredHost === '0.0.0.0' || configuredHost === '::' || configuredHost === '[::]';
const host = wildcard ? '127.0.0.1' : configuredHost;
const hostInUrl = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
const port = process.env.CHARTER_HTTP_PORT || '8080';

try {
  const response = await fetch(`http://${hostInUrl}:${port}/healthz`, { signal: AbortSignal.timeout(2500) });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  process.stderr.write(`healthcheck: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

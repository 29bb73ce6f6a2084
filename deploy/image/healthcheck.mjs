// Health check for the Charter image, with node itself (slim images have no curl or wget).
// Exit 0 = healthy, 1 = unhealthy.
//
//   node /app/healthcheck.mjs                  the server's HTTP /healthz (the image's HEALTHCHECK)
//   node /app/healthcheck.mjs grpc HOST:PORT   grpc.health.v1.Health/Check, e.g. for a sidecar
//                                              that listens on loopback only, where a kubelet
//                                              gRPC probe (which dials the pod IP) cannot reach
const TIMEOUT_MS = 2500;

function unhealthy(message) {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(1);
}

async function httpHealth() {
  // CHARTER_HOST is where the server listens; a wildcard address (or none) is reached on loopback.
  const configured = process.env.CHARTER_HOST ?? '';
  const wildcard = ['', '0.0.0.0', '::', '[::]'].includes(configured);
  const host = wildcard ? '127.0.0.1' : configured;
  const hostInUrl = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const port = process.env.CHARTER_HTTP_PORT || '8080';
  const response = await fetch(`http://${hostInUrl}:${port}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!response.ok) unhealthy(`/healthz answered ${response.status}`);
}

async function grpcHealth(target) {
  const grpc = await import('@grpc/grpc-js');
  const protoLoader = await import('@grpc/proto-loader');
  const { protoPath } = await import('grpc-health-check');
  const definition = protoLoader.loadSync(protoPath, { enums: String });
  const { Health } = grpc.loadPackageDefinition(definition).grpc.health.v1;
  const client = new Health(target, grpc.credentials.createInsecure());
  try {
    const status = await new Promise((resolve, reject) => {
      client.check({ service: '' }, { deadline: Date.now() + TIMEOUT_MS }, (error, response) =>
        error ? reject(error) : resolve(response.status));
    });
    if (status !== 'SERVING') unhealthy(`${target} is ${status}`);
  } finally {
    client.close();
  }
}

try {
  const [mode, target] = process.argv.slice(2);
  if (mode === undefined) await httpHealth();
  else if (mode === 'grpc' && target) await grpcHealth(target);
  else unhealthy('usage: healthcheck.mjs [grpc HOST:PORT]');
  process.exit(0);
} catch (error) {
  unhealthy(error instanceof Error ? error.message : String(error));
}

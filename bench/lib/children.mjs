/**
 * Server processes for the load benchmarks. Each server runs in its own child process so the
 * client's event loop and the server's do not share a thread (on 2 cores: one each), and
 * Charter, the echo service and Cerbos are all measured in that same arrangement.
 *
 * A child announces its gRPC port on stdout (a JSON log line with "grpcPort", or Cerbos'
 * own "Starting gRPC server" line — see `readyPattern`). Every child started here is killed
 * by its PID when the benchmark ends, fails or is interrupted.
 */
import { spawn } from 'node:child_process';

const children = new Set();

function killAll(signal = 'SIGTERM') {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, signal);
      } catch {
        /* already gone */
      }
    }
  }
}

let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => killAll('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      killAll('SIGKILL');
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    killAll('SIGKILL');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    killAll('SIGKILL');
    process.exit(1);
  });
}

/**
 * Starts `command args` and resolves once `readyPort(line)` returns a port for a line of its
 * stdout or stderr. Rejects (and kills the child) on exit or after `timeoutMs`.
 */
export function startChild(name, command, args, { readyPort, timeoutMs = 60_000, env, cwd } = {}) {
  hookExit();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd });
    children.add(child);
    const tail = [];
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`${name} did not report its port within ${timeoutMs} ms`)), timeoutMs);
    const handle = {
      name,
      pid: child.pid,
      port: 0,
      output: tail,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) {
          children.delete(child);
          return;
        }
        const exited = new Promise((r) => child.once('exit', r));
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        const killer = setTimeout(() => {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5_000);
        await exited;
        clearTimeout(killer);
        children.delete(child);
      },
    };
    function fail(err) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      err.message += `\n--- last output of ${name} ---\n${tail.join('\n')}`;
      reject(err);
    }
    const onData = (buf) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        tail.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
        if (tail.length > 30) tail.shift();
        if (!settled) {
          const port = readyPort(line);
          if (port) {
            settled = true;
            clearTimeout(timer);
            handle.port = port;
            resolve(handle);
          }
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      children.delete(child);
      fail(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
    });
  });
}

/** Ready-line parser for processes that log JSON with a grpcPort field (pino). */
export function jsonGrpcPort(line) {
  if (!line.startsWith('{')) return 0;
  try {
    const o = JSON.parse(line);
    return typeof o.grpcPort === 'number' && o.grpcPort > 0 ? o.grpcPort : 0;
  } catch {
    return 0;
  }
}

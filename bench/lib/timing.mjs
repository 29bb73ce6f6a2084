/**
 * In-process timing for the CI gate: several cases measured in interleaved rounds (A, B, C,
 * A, B, C, ...) so that a burst of noise from a neighbour on the machine hits every case, and
 * the per-case result is the median of its rounds. Each round times a batch of calls with
 * hrtime and divides; the batch is sized once, after warm-up, to last `roundMs`.
 *
 * benny (bench/micro.mjs) gives the fuller statistics; this is the short, robust version.
 */
import { median, spread } from './stats.mjs';

let sink = 0;
/** Keeps results alive so the optimiser cannot drop the measured call. */
export function consume(value) {
  sink = (sink + (value ? 1 : 0)) | 0;
}
export function sinkValue() {
  return sink;
}

/**
 * A timing loop of its own for each case: one shared loop calling many different functions
 * becomes megamorphic, and then the cheapest case (the cache floor) measures the generic call
 * instead of itself — and stays slow for the rest of the run. Each case gets a fresh copy
 * (new Function), so the JIT specialises it to that one callee.
 */
function makeTimeBatch() {
  // eslint-disable-next-line no-new-func
  const loop = new Function(
    'hrtime',
    `return function timeBatch(fn, n) {
      let s = 0;
      const t0 = hrtime();
      for (let i = 0; i < n; i++) if (fn(i)) s++;
      const ns = Number(hrtime() - t0) / n;
      timeBatch.sink = (timeBatch.sink + s) | 0;
      return ns;
    }`,
  )(process.hrtime.bigint);
  loop.sink = 0;
  return loop;
}

const loops = new WeakMap();
function timeBatch(fn, n) {
  let loop = loops.get(fn);
  if (loop === undefined) loops.set(fn, (loop = makeTimeBatch()));
  const ns = loop(fn, n);
  sink = (sink + loop.sink) | 0;
  return ns;
}

/**
 * cases: { name: fn(i) } — each fn does one operation (its return value is consumed).
 * Returns { name: { ns, rounds: [...], spread, batch } } with ns = median ns/op.
 */
export function measureInterleaved(cases, { warmupMs = 300, roundMs = 40, rounds = 15 } = {}) {
  const names = Object.keys(cases);
  const batch = {};
  for (const name of names) {
    const fn = cases[name];
    // Warm-up: run until warmupMs has passed, so the JIT has settled on this code.
    let n = 64;
    const end = performance.now() + warmupMs;
    let nsPerOp = timeBatch(fn, n);
    while (performance.now() < end) {
      nsPerOp = timeBatch(fn, n);
      if (n < 1 << 20) n *= 2;
    }
    batch[name] = Math.max(16, Math.round((roundMs * 1e6) / Math.max(nsPerOp, 1)));
  }
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the starting case each round so no case always follows the same neighbour.
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length];
      samples[name].push(timeBatch(cases[name], batch[name]));
    }
  }
  const out = {};
  for (const name of names) out[name] = { ns: median(samples[name]), spread: spread(samples[name]), rounds: samples[name], batch: batch[name] };
  return out;
}

/** Same for async operations (awaited one at a time). */
export async function measureInterleavedAsync(cases, { warmupMs = 300, roundMs = 40, rounds = 15 } = {}) {
  const names = Object.keys(cases);
  const timeAsync = async (fn, n) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) consume(await fn(i));
    return Number(process.hrtime.bigint() - t0) / n;
  };
  const batch = {};
  for (const name of names) {
    let n = 64;
    const end = performance.now() + warmupMs;
    let nsPerOp = await timeAsync(cases[name], n);
    while (performance.now() < end) {
      nsPerOp = await timeAsync(cases[name], n);
      if (n < 1 << 20) n *= 2;
    }
    batch[name] = Math.max(16, Math.round((roundMs * 1e6) / Math.max(nsPerOp, 1)));
  }
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length];
      samples[name].push(await timeAsync(cases[name], batch[name]));
    }
  }
  const out = {};
  for (const name of names) out[name] = { ns: median(samples[name]), spread: spread(samples[name]), rounds: samples[name], batch: batch[name] };
  return out;
}

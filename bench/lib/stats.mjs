/** Small statistics helpers: medians of rounds, ratios, rounding for tables. */

export function median(values) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Spread of rounds as (max - min) / median: the noise a reader should allow for. */
export function spread(values) {
  const m = median(values);
  return m > 0 ? (Math.max(...values) - Math.min(...values)) / m : NaN;
}

export function round(value, digits = 1) {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Formats a number for a table: thousands separated, sensible precision. */
export function fmt(value, digits) {
  if (value === undefined || value === null || Number.isNaN(value)) return 'n/a';
  if (typeof value !== 'number') return String(value);
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

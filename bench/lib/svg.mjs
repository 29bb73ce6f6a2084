/**
 * A small SVG chart writer (no browser, no dependencies): latency-by-percentile curves on a
 * log latency axis, and horizontal bars on a log axis. Enough for the benchmark report.
 */
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function logTicks(min, max) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

const label = (v) => (v >= 1000 ? `${(v / 1000).toLocaleString('en-US')}k` : v >= 1 ? String(v) : v.toPrecision(1));

/** x position of a percentile on the "nines" scale: 0 → 0, 90 → 1, 99 → 2, 99.9 → 3. */
const nines = (p) => Math.log10(100 / (100 - Math.min(p, 99.99)));

/**
 * series: [{ name, points: [[percentile, value], ...] }]. Returns an SVG <g> of size w×h.
 */
export function percentileChart({ x, y, w, h, title, unit, series }) {
  const pad = { l: 56, r: 190, t: 28, b: 40 };
  const all = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => v > 0);
  const min = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const max = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const maxX = 3;
  const px = (p) => x + pad.l + (nines(p) / maxX) * (w - pad.l - pad.r);
  const py = (v) => y + h - pad.b - ((Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * (h - pad.t - pad.b);
  const out = [`<text x="${x + pad.l}" y="${y + 18}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  for (const t of logTicks(min, max)) {
    out.push(`<line x1="${x + pad.l}" x2="${x + w - pad.r}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/>`);
    out.push(`<text x="${x + pad.l - 6}" y="${py(t) + 4}" font-size="11" text-anchor="end">${label(t)}</text>`);
  }
  for (const p of [0, 50, 90, 99, 99.9]) {
    out.push(`<line x1="${px(p)}" x2="${px(p)}" y1="${y + pad.t}" y2="${y + h - pad.b}" stroke="#eee"/>`);
    out.push(`<text x="${px(p)}" y="${y + h - pad.b + 16}" font-size="11" text-anchor="middle">p${p}</text>`);
  }
  out.push(`<text x="${x + pad.l + (w - pad.l - pad.r) / 2}" y="${y + h - 6}" font-size="11" text-anchor="middle">percentile</text>`);
  out.push(`<text transform="translate(${x + 14},${y + (h - pad.b + pad.t) / 2}) rotate(-90)" font-size="11" text-anchor="middle">${esc(unit)} (log)</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const d = s.points.filter((p) => p[1] > 0).map((p, k) => `${k ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
    out.push(`<rect x="${x + w - pad.r + 12}" y="${y + pad.t + i * 18}" width="12" height="3" fill="${c}"/>`);
    out.push(`<text x="${x + w - pad.r + 28}" y="${y + pad.t + i * 18 + 5}" font-size="11">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** bars: [{ name, value, note? }] on a log axis. */
export function barChart({ x, y, w, h, title, unit, bars }) {
  const pad = { l: 150, r: 70, t: 28, b: 34 };
  const vals = bars.map((b) => b.value).filter((v) => v > 0);
  const min = 10 ** Math.floor(Math.log10(Math.min(...vals)));
  const max = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
  const px = (v) => x + pad.l + ((Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * (w - pad.l - pad.r);
  const bh = Math.min(22, (h - pad.t - pad.b) / bars.length - 4);
  const out = [`<text x="${x + 8}" y="${y + 18}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  for (const t of logTicks(min, max)) {
    out.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${y + pad.t}" y2="${y + h - pad.b}" stroke="#ddd"/>`);
    out.push(`<text x="${px(t)}" y="${y + h - pad.b + 14}" font-size="11" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<text x="${x + pad.l + (w - pad.l - pad.r) / 2}" y="${y + h - 4}" font-size="11" text-anchor="middle">${esc(unit)} (log)</text>`);
  bars.forEach((b, i) => {
    const by = y + pad.t + i * (bh + 4) + 2;
    const c = COLORS[(b.color ?? i) % COLORS.length];
    out.push(`<text x="${x + pad.l - 6}" y="${by + bh * 0.7}" font-size="11" text-anchor="end">${esc(b.name)}</text>`);
    out.push(`<rect x="${px(min)}" y="${by}" width="${Math.max(1, px(b.value) - px(min)).toFixed(1)}" height="${bh}" fill="${c}"/>`);
    out.push(`<text x="${px(b.value) + 4}" y="${by + bh * 0.7}" font-size="11">${esc(b.text ?? label(Math.round(b.value)))}</text>`);
  });
  return out.join('\n');
}

export function svgDocument(width, height, body, footer) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${body}
<text x="8" y="${height - 8}" font-size="10" fill="#555">${esc(footer)}</text>
</svg>
`;
}

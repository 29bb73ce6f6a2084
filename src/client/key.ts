/**
 * Cache keys. The hot path (no context, no attributes, no claims) is three strings joined by
 * NUL, a character the server rejects in identifiers: a request that contains it is never
 * cached or coalesced, so keys stay unambiguous. Optional parts get a canonical encoding
 * (sorted keys, JSON-escaped strings, typed scalars) only when present.
 */

const SEP = '\u0000';

/** The key of a request, or undefined when it must not be cached (an identifier holds NUL). */
export function cacheKey(
  actor: string,
  action: string,
  resource: string,
  context: Record<string, unknown> | undefined,
  resourceAttributes: Record<string, unknown> | undefined,
  actorClaims: Record<string, unknown> | undefined,
): string | undefined {
  if (actor.includes(SEP) || action.includes(SEP) || resource.includes(SEP)) return undefined;
  const base = actor + SEP + action + SEP + resource;
  if (context === undefined && resourceAttributes === undefined && actorClaims === undefined) return base;
  // The extra parts never contain a raw NUL (canonical() escapes strings), so a key with
  // them always has exactly five separators and one without has two.
  const c = optional(context);
  const r = optional(resourceAttributes);
  const a = optional(actorClaims);
  if (c === '' && r === '' && a === '') return base;
  return base + SEP + c + SEP + r + SEP + a;
}

function optional(obj: Record<string, unknown> | undefined): string {
  // An empty object and an absent one mean the same to the server (an empty Struct).
  if (obj === undefined || obj === null) return '';
  const s = canonical(obj);
  return s === '{}' ? '' : s;
}

/**
 * A canonical text for a JSON-like value: equal for values the server cannot tell apart after
 * the google.protobuf.Struct round trip, different otherwise. Numbers are doubles in a Struct,
 * so 1 and 1.0 are the same; undefined members are dropped (objectToStruct drops them).
 */
export function canonical(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      // Struct numbers are doubles; JSON has no NaN/Infinity, so spell them out distinctly.
      return Number.isFinite(v) ? (Object.is(v, -0) ? '0' : String(v)) : `#${String(v)}`;
    case 'bigint':
      return String(Number(v));
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + canonical(v[i]);
        return out + ']';
      }
      if (v instanceof Date) return JSON.stringify(v.toISOString());
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const value = obj[k];
        if (value === undefined) continue;
        out += (first ? '' : ',') + JSON.stringify(k) + ':' + canonical(value);
        first = false;
      }
      return out + '}';
    }
    default:
      // Functions and symbols become null in a Struct.
      return 'null';
  }
}

/**
 * Cache keys. The hot path (no context, no attributes, no claims) is three strings joined by
 * NUL, with no scan of them: a NUL inside an identifier could make two requests share a key,
 * so (1) a request holding one is never cached or coalesced (`cacheable`, checked on a miss;
 * the server rejects such identifiers anyway), and (2) a hit is only used when the three
 * lengths match the cached request's (`CacheEntry`): with equal keys and equal lengths the
 * identifiers are equal, and the optional parts after them are self-delimiting (`canonical`).
 */

const SEP = '\u0000';

export function cacheKey(
  actor: string,
  action: string,
  resource: string,
  context: Record<string, unknown> | undefined,
  resourceAttributes: Record<string, unknown> | undefined,
  actorClaims: Record<string, unknown> | undefined,
): string {
  const base = actor + SEP + action + SEP + resource;
  if (context === undefined && resourceAttributes === undefined && actorClaims === undefined) return base;
  const c = optional(context);
  const r = optional(resourceAttributes);
  const a = optional(actorClaims);
  if (c === '' && r === '' && a === '') return base;
  return base + SEP + c + SEP + r + SEP + a;
}

/** May answers to this request be cached and shared? (No NUL in an identifier.) */
export function cacheable(actor: string, action: string, resource: string): boolean {
  return !actor.includes(SEP) && !action.includes(SEP) && !resource.includes(SEP);
}

function optional(obj: Record<string, unknown> | undefined): string {
  // An empty object and an absent one mean the same to the server (an empty Struct).
  if (obj === undefined || obj === null) return '';
  const s = canonical(obj);
  return s === '{}' ? '' : s;
}

/**
 * A canonical text for a JSON-like value: equal for values the server cannot tell apart after
 * the google.protobuf.Struct round trip, different otherwise. Self-delimiting (strings and keys
 * are length-prefixed, numbers end with ";"), so it needs no escaping: cheaper than
 * JSON.stringify. Numbers are doubles in a Struct, so 1 and 1.0 are the same; undefined members
 * are dropped (the Struct conversion drops them).
 */
export function canonical(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return 's' + v.length + ':' + v;
    case 'number':
      return 'n' + (Object.is(v, -0) ? '0' : String(v)) + ';';
    case 'bigint':
      return 'n' + String(Number(v)) + ';';
    case 'boolean':
      return v ? 't' : 'f';
    case 'object': {
      if (v === null) return 'z';
      if (Array.isArray(v)) {
        let out = '[';
        for (let i = 0; i < v.length; i++) out += canonical(v[i]);
        return out + ']';
      }
      if (v instanceof Date) return canonical(v.toISOString());
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj);
      // Callers usually build context objects the same way every time: sort only when needed.
      for (let i = 1; i < keys.length; i++) {
        if (keys[i - 1] > keys[i]) {
          keys.sort();
          break;
        }
      }
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const value = obj[k];
        if (value === undefined) continue;
        out += k.length + ':' + k + canonical(value);
      }
      return out + '}';
    }
    default:
      // Functions and symbols become null in a Struct.
      return 'z';
  }
}

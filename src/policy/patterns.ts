/**
 * Segment patterns for SPIFFE IDs and UONs. An id is split on '/', so
 * `uon://payments/payment/p-1` has the segments [uon:, "", payments, payment, p-1].
 * `*` matches exactly one non-empty segment, `**` any number of segments (zero included);
 * a pattern of just `**` matches every id. Wildcards stand for whole segments only.
 */
export const ONE_SEGMENT = '*';
export const ANY_SEGMENTS = '**';

export interface SegmentPattern {
  readonly text: string;
  readonly segments: readonly string[];
  /** True when the pattern has no wildcard: matching is string equality. */
  readonly literal: boolean;
}

export function splitSegments(id: string): string[] {
  return id.split('/');
}

/** Returns an error message when the pattern is malformed. */
export function checkPattern(text: string): string | undefined {
  for (const segment of splitSegments(text)) {
    if (segment.includes('*') && segment !== ONE_SEGMENT && segment !== ANY_SEGMENTS) {
      return `wildcards must be whole segments ('*' or '**'), not '${segment}'`;
    }
  }
  return undefined;
}

export function compilePattern(text: string): SegmentPattern {
  const segments = splitSegments(text);
  return { text, segments, literal: !segments.some((s) => s === ONE_SEGMENT || s === ANY_SEGMENTS) };
}

export function matchPattern(pattern: SegmentPattern, id: string): boolean {
  if (pattern.literal) return pattern.text === id;
  return matchSegments(pattern.segments, 0, splitSegments(id), 0);
}

/** matchPattern for an id already split with splitSegments (a wildcard pattern). */
export function matchSegmentsOf(pattern: SegmentPattern, segments: readonly string[]): boolean {
  return matchSegments(pattern.segments, 0, segments, 0);
}

function matchSegments(pattern: readonly string[], p: number, id: readonly string[], i: number): boolean {
  for (; p < pattern.length; p++, i++) {
    const segment = pattern[p];
    if (segment === ANY_SEGMENTS) {
      if (p === pattern.length - 1) return true;
      for (let j = i; j <= id.length; j++) if (matchSegments(pattern, p + 1, id, j)) return true;
      return false;
    }
    if (i >= id.length) return false;
    if (segment === ONE_SEGMENT ? id[i] === '' : segment !== id[i]) return false;
  }
  return i === id.length;
}

/**
 * True when every id matched by `inner` is also matched by `outer` (used to find rules that
 * can never decide). Conservative: may answer false for some covering pairs, never true wrongly.
 */
export function patternCovers(outer: SegmentPattern, inner: SegmentPattern): boolean {
  return covers(outer.segments, 0, inner.segments, 0);
}

function covers(outer: readonly string[], o: number, inner: readonly string[], i: number): boolean {
  if (o === outer.length) return i === inner.length;
  const segment = outer[o];
  if (segment === ANY_SEGMENTS) {
    if (o === outer.length - 1) return true;
    for (let j = i; j <= inner.length; j++) if (covers(outer, o + 1, inner, j)) return true;
    return false;
  }
  if (i >= inner.length) return false;
  const other = inner[i];
  if (other === ANY_SEGMENTS) return false;
  if (segment === ONE_SEGMENT) return other !== '' && covers(outer, o + 1, inner, i + 1);
  return segment === other && covers(outer, o + 1, inner, i + 1);
}

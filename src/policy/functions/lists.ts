/**
 * Whether some element of `probes` is in `list` (inList) or missing from it (!inList): hasAny
 * is someProbe(a, b, true), hasAll is !someProbe(a, b, false). Role and group lists are short:
 * scanning them allocates nothing, where a Set costs an allocation and a hash of every element
 * per call; both compare with SameValueZero, so the answers are the same.
 */
export function someProbe(list: readonly unknown[], probes: readonly unknown[], inList: boolean): boolean {
  if (list.length * probes.length <= 64) {
    for (const x of probes) if (list.includes(x) === inList) return true;
    return false;
  }
  const set = new Set(list);
  for (const x of probes) if (set.has(x) === inList) return true;
  return false;
}

/**
 * Id prefixes under which the store holds no entity, learnt per revision. Callers often name
 * resources the store never holds — AuthZEN resources described by their properties
 * (`todo/<uuid>`), objects a service creates faster than anyone imports them. For those a read
 * walks the B-tree only to miss, and the miss then takes a slot in the attribute cache, pushing
 * out entities that are stored. With the prefix known to be empty, such an id is answered
 * from memory and the cache is left alone.
 *
 * The prefix is the id up to its last '/' (`todo/`, `uon://payments/refund/`); ids without a
 * '/' past the first character are always read. Knowledge is kept for one revision: the attribute
 * cache clears it together with its entries when the revision moves, so an entity written under
 * a prefix is found from the next revision on.
 */
export class AbsentPrefixes {
  /** prefix → true when nothing is stored under it at the revision the owner serves. */
  private readonly known = new Map<string, boolean>();

  constructor(
    private readonly maxPrefixes: number,
    private readonly anyWithPrefix: (prefix: string) => boolean,
  ) {}

  /** True when no entity id starts with the prefix of `id` (as of the last clear()). */
  covers(id: string): boolean {
    const slash = id.lastIndexOf('/');
    if (slash <= 0) return false;
    const prefix = id.slice(0, slash + 1);
    let absent = this.known.get(prefix);
    if (absent === undefined) {
      // Many distinct prefixes (ids nested under other ids) would make this a scan per read:
      // start over rather than grow without bound.
      if (this.known.size >= this.maxPrefixes) this.known.clear();
      absent = !this.anyWithPrefix(prefix);
      this.known.set(prefix, absent);
    }
    return absent;
  }

  /** Forgets everything learnt: the owner calls it whenever the revision it serves moves. */
  clear(): void {
    this.known.clear();
  }
}

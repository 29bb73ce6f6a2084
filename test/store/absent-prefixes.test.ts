import { describe, expect, it } from 'vitest';
import { AbsentPrefixes } from '../../src/store/absent-prefixes.js';

describe('AbsentPrefixes', () => {
  it('scans a prefix once until cleared (a new revision), and stays bounded', () => {
    const stored = new Set(['uon://a/x/1', 'team:t']);
    const scans: string[] = [];
    const absent = new AbsentPrefixes(3, (prefix) => {
      scans.push(prefix);
      return [...stored].some((id) => id.startsWith(prefix));
    });
    expect(absent.covers('todo/1')).toBe(true);
    expect(absent.covers('todo/2')).toBe(true);
    expect(absent.covers('uon://a/x/2')).toBe(false);
    expect(scans).toEqual(['todo/', 'uon://a/x/']);
    // No '/' past the first character: always read, never scanned.
    expect(absent.covers('team:x')).toBe(false);
    expect(absent.covers('/x')).toBe(false);
    expect(scans).toHaveLength(2);

    stored.add('todo/9');
    expect(absent.covers('todo/1')).toBe(true); // same revision: what was learnt holds
    absent.clear(); // the attribute cache saw the revision move
    expect(absent.covers('todo/1')).toBe(false); // learnt again
    expect(scans).toEqual(['todo/', 'uon://a/x/', 'todo/']);

    // Full (3): the next new prefix starts over.
    absent.covers('a/1');
    absent.covers('b/1');
    absent.covers('c/1');
    absent.covers('todo/1');
    expect(scans.slice(3)).toEqual(['a/', 'b/', 'c/', 'todo/']);
  });
});

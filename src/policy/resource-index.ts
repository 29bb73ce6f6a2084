/**
 * Finds the candidate rules for (resource, action) without scanning every rule: a trie over
 * resource segments whose nodes hold rules by action. Lookup cost depends on the depth of the
 * resource id and the wildcards on its path, not on how many rules are loaded.
 */
import { ANY_SEGMENTS, ONE_SEGMENT, splitSegments, type SegmentPattern } from './patterns.js';

export const ANY_ACTION = '*';

interface Indexed {
  /** Set while collecting to drop duplicates reached through several `**` paths. */
  lookupStamp: number;
  /** Position in declaration order, so candidates come back in a stable order. */
  readonly order: number;
}

class TrieNode<R extends Indexed> {
  readonly children = new Map<string, TrieNode<R>>();
  oneSegment: TrieNode<R> | undefined;
  anySegments: TrieNode<R> | undefined;
  readonly byAction = new Map<string, R[]>();
  readonly anyAction: R[] = [];
}

export class ResourceIndex<R extends Indexed> {
  private readonly root = new TrieNode<R>();
  private stamp = 0;

  add(pattern: SegmentPattern, actions: readonly string[], rule: R): void {
    let node = this.root;
    for (const segment of pattern.segments) {
      if (segment === ANY_SEGMENTS) node = node.anySegments ??= new TrieNode();
      else if (segment === ONE_SEGMENT) node = node.oneSegment ??= new TrieNode();
      else {
        let child = node.children.get(segment);
        if (child === undefined) node.children.set(segment, (child = new TrieNode()));
        node = child;
      }
    }
    for (const action of actions) {
      if (action === ANY_ACTION) {
        if (!node.anyAction.includes(rule)) node.anyAction.push(rule);
        continue;
      }
      let list = node.byAction.get(action);
      if (list === undefined) node.byAction.set(action, (list = []));
      if (!list.includes(rule)) list.push(rule);
    }
  }

  /** Rules whose resource pattern matches `resource` and whose actions include `action`. */
  lookup(resource: string, action: string): R[] {
    const out: R[] = [];
    const stamp = ++this.stamp;
    collect(this.root, splitSegments(resource), 0, action, stamp, out);
    if (out.length > 1 && !inOrder(out)) out.sort(byOrder);
    return out;
  }

  /** Every action name the rules matching `resource` mention ('*' when any action matches). */
  actionsFor(resource: string): Set<string> {
    const actions = new Set<string>();
    visitMatching(this.root, splitSegments(resource), 0, (node) => {
      for (const [action, rules] of node.byAction) if (rules.length > 0) actions.add(action);
      if (node.anyAction.length > 0) actions.add(ANY_ACTION);
    });
    return actions;
  }
}

function byOrder(a: Indexed, b: Indexed): number {
  return a.order - b.order;
}

function take<R extends Indexed>(rules: R[] | undefined, stamp: number, out: R[]): void {
  if (rules === undefined) return;
  for (const rule of rules) {
    if (rule.lookupStamp !== stamp) {
      rule.lookupStamp = stamp;
      out.push(rule);
    }
  }
}

function inOrder(rules: readonly Indexed[]): boolean {
  for (let i = 1; i < rules.length; i++) if (rules[i - 1].order > rules[i].order) return false;
  return true;
}

/** visitMatching specialised to collecting candidates: no closure per lookup (the hot path). */
function collect<R extends Indexed>(node: TrieNode<R>, segments: string[], i: number, action: string, stamp: number, out: R[]): void {
  if (node.anySegments !== undefined) {
    for (let j = i; j <= segments.length; j++) collect(node.anySegments, segments, j, action, stamp, out);
  }
  if (i === segments.length) {
    take(node.byAction.get(action), stamp, out);
    if (node.anyAction.length > 0) take(node.anyAction, stamp, out);
    return;
  }
  const segment = segments[i];
  const child = node.children.get(segment);
  if (child !== undefined) collect(child, segments, i + 1, action, stamp, out);
  if (node.oneSegment !== undefined && segment !== '') collect(node.oneSegment, segments, i + 1, action, stamp, out);
}

/** Calls `visit` on every node whose pattern matches segments[i..] completely. */
function visitMatching<R extends Indexed>(node: TrieNode<R>, segments: string[], i: number, visit: (node: TrieNode<R>) => void): void {
  if (node.anySegments !== undefined) {
    for (let j = i; j <= segments.length; j++) visitMatching(node.anySegments, segments, j, visit);
  }
  if (i === segments.length) {
    visit(node);
    return;
  }
  const segment = segments[i];
  const child = node.children.get(segment);
  if (child !== undefined) visitMatching(child, segments, i + 1, visit);
  if (node.oneSegment !== undefined && segment !== '') visitMatching(node.oneSegment, segments, i + 1, visit);
}

import { describe, expect, it } from 'vitest';
import { distanceKm } from '../../src/policy/functions/geo.js';
import { ipInAnyRange, ipInRange, parseAddress } from '../../src/policy/functions/ip.js';
import { ServerInstant, utcOffsetMs } from '../../src/policy/functions/server-instant.js';
import { runtimeBaseEnvironment } from '../../src/policy/cel-environment.js';
import { decide, MemorySources } from '../../src/policy/index.js';
import { relatedThroughGroups } from '../../src/relations/traverse.js';
import { seededRandom } from '../random.js';
import { compileText } from './helpers.js';

describe('ipInRange', () => {
  it('tests IPv4 ranges at their edges', () => {
    expect(ipInRange('10.0.0.0', '10.0.0.0/8')).toBe(true);
    expect(ipInRange('10.255.255.255', '10.0.0.0/8')).toBe(true);
    expect(ipInRange('11.0.0.0', '10.0.0.0/8')).toBe(false);
    expect(ipInRange('192.168.1.5', '192.168.1.4/31')).toBe(true);
    expect(ipInRange('192.168.1.6', '192.168.1.4/31')).toBe(false);
    expect(ipInRange('1.2.3.4', '0.0.0.0/0')).toBe(true);
    expect(ipInRange('1.2.3.4', '1.2.3.4/32')).toBe(true);
  });

  it('tests IPv6 ranges, compressed forms and embedded IPv4', () => {
    expect(ipInRange('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(ipInRange('2001:db9::1', '2001:db8::/32')).toBe(false);
    expect(ipInRange('::1', '::1/128')).toBe(true);
    expect(ipInRange('fe80::abcd:1', 'fe80::/10')).toBe(true);
    expect(ipInRange('2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1/128')).toBe(true);
    expect(ipInRange('::ffff:10.1.2.3', '10.0.0.0/8')).toBe(true);
    expect(ipInRange('::ffff:11.1.2.3', '10.0.0.0/8')).toBe(false);
    expect(ipInRange('10.1.2.3', '::/0')).toBe(false);
    expect(ipInRange('2001:db8::1', '10.0.0.0/8')).toBe(false);
  });

  it('throws on malformed addresses and ranges (so conditions fail closed)', () => {
    for (const bad of ['', '10.0.0.256', '10.0.0', '1.2.3.4.5', 'abc', ' 10.0.0.1', '10.0.0.1 ', '2001:db8:::1', 'fe80::1%eth0', '01.2.3.4']) {
      expect(() => parseAddress(bad), bad).toThrow();
    }
    expect(() => ipInRange('10.0.0.1', '10.0.0.0')).toThrow(/missing \/prefix/);
    expect(() => ipInRange('10.0.0.1', '10.0.0.0/33')).toThrow(/too long/);
    expect(() => ipInRange('10.0.0.1', '10.0.0.0/x')).toThrow();
    expect(() => ipInRange('::1', '::/129')).toThrow(/too long/);
  });

  it('tests a list of ranges', () => {
    expect(ipInAnyRange('172.16.5.4', ['10.0.0.0/8', '172.16.0.0/12'])).toBe(true);
    expect(ipInAnyRange('172.32.0.1', ['10.0.0.0/8', '172.16.0.0/12'])).toBe(false);
  });
});

describe('geoDistanceKm', () => {
  it('measures great-circle distances', () => {
    expect(distanceKm(51.5074, -0.1278, 48.8566, 2.3522)).toBeCloseTo(343.5, 0); // London–Paris
    expect(distanceKm(0, 0, 0, 0)).toBe(0);
    expect(distanceKm(0, 179.5, 0, -179.5)).toBeCloseTo(111.2, 0); // across the antimeridian
  });
  it('rejects impossible coordinates', () => {
    expect(() => distanceKm(91, 0, 0, 0)).toThrow(/latitude/);
    expect(() => distanceKm(0, 0, 0, Number.NaN)).toThrow();
  });
});

describe('relationship traversal', () => {
  const tuples = (list: Array<[string, string, string]>) => {
    const map = new Map<string, string[]>();
    for (const [o, r, s] of list) map.set(`${o}|${r}`, [...(map.get(`${o}|${r}`) ?? []), s]);
    let lookups = 0;
    return {
      lookup: (o: string, r: string) => {
        lookups++;
        return map.get(`${o}|${r}`) ?? [];
      },
      lookups: () => lookups,
    };
  };

  it('finds direct and nested memberships', () => {
    const t = tuples([
      ['doc', 'owner', 'team:a'],
      ['team:a', 'member', 'team:b'],
      ['team:b', 'member', 'user:1'],
      ['doc', 'viewer', 'user:2'],
    ]);
    expect(relatedThroughGroups(t.lookup, 'doc', 'viewer', 'user:2')).toBe(true);
    expect(relatedThroughGroups(t.lookup, 'doc', 'owner', 'user:1')).toBe(true);
    expect(relatedThroughGroups(t.lookup, 'doc', 'owner', 'team:b')).toBe(true);
    expect(relatedThroughGroups(t.lookup, 'doc', 'viewer', 'user:1')).toBe(false);
  });

  it('terminates on cycles without granting', () => {
    const t = tuples([
      ['doc', 'owner', 'team:a'],
      ['team:a', 'member', 'team:b'],
      ['team:b', 'member', 'team:c'],
      ['team:c', 'member', 'team:a'],
    ]);
    expect(relatedThroughGroups(t.lookup, 'doc', 'owner', 'user:x', 1000)).toBe(false);
    // Each of the three teams is expanded once, whatever the depth limit.
    expect(t.lookups()).toBe(1 + 3);
  });

  it('stops at the depth limit', () => {
    const chain: Array<[string, string, string]> = [['doc', 'owner', 'g0']];
    for (let i = 0; i < 12; i++) chain.push([`g${i}`, 'member', `g${i + 1}`]);
    chain.push(['g12', 'member', 'user:deep']);
    const t = tuples(chain);
    expect(relatedThroughGroups(t.lookup, 'doc', 'owner', 'user:deep', 8)).toBe(false);
    expect(relatedThroughGroups(t.lookup, 'doc', 'owner', 'user:deep', 13)).toBe(true);
    expect(relatedThroughGroups(t.lookup, 'doc', 'owner', 'g8', 8)).toBe(true);
    expect(relatedThroughGroups(t.lookup, 'doc', 'owner', 'g9', 8)).toBe(false);
  });
});

describe('functions inside conditions', () => {
  const set = compileText(`rules:
  - id: near
    effect: allow
    actors: "*"
    actions: [enter]
    resources: ["uon://site/door/*"]
    condition: geoDistanceKm(env.lat, env.lon, resource.lat, resource.lon) <= 1.0
  - id: lists
    effect: allow
    actors: "*"
    actions: [list]
    resources: ["uon://site/door/*"]
    condition: hasAny(actor.groups, ["a", "b"]) && size(intersect(actor.groups, ["x", "y", "z"])) == 2
`).set!;
  const sources = new MemorySources().setEntity('uon://site/door/1', { lat: 51.5, lon: -0.12 }).setEntity('u1', { groups: ['b', 'x', 'z'] }).setEntity('u2', { groups: ['x', 'y'] });
  const ask = (actor: string, action: string, context?: Record<string, unknown>) =>
    decide(set, { actor, action, resource: 'uon://site/door/1', context }, { attributes: sources, relations: sources, now: new Date() });

  it('geo distance', () => {
    expect(ask('u1', 'enter', { lat: 51.505, lon: -0.12 }).effect).toBe('ALLOW');
    expect(ask('u1', 'enter', { lat: 51.6, lon: -0.12 }).effect).toBe('DENY');
    const broken = ask('u1', 'enter', { lat: 'north', lon: -0.12 });
    expect(broken.effect).toBe('DENY');
    expect(broken.errors).toHaveLength(1);
  });

  it('list helpers', () => {
    expect(ask('u1', 'list').effect).toBe('ALLOW');
    expect(ask('u2', 'list').effect).toBe('DENY');
  });
});

describe('hasAny and hasAll', () => {
  it('agree with set semantics on short lists (scanned) and long ones (hashed)', () => {
    const env = runtimeBaseEnvironment();
    const any = env.parse('hasAny(actor.list, actor.probes)');
    const all = env.parse('hasAll(actor.list, actor.probes)');
    const next = seededRandom(7);
    // Mixed types (1 vs '1') and alphabets sized so that about half the probes are members.
    const values = [...Array.from({ length: 60 }, (_, i) => `v${i}`), 1, 2, '1', '2', true];
    const randomList = (long: boolean) => Array.from({ length: long ? 20 + next(40) : next(6) }, () => values[next(long ? values.length : 8) + (long ? 0 : 58)]);
    for (let i = 0; i < 4000; i++) {
      const list = randomList(next(2) === 0);
      const probes = randomList(next(2) === 0);
      const actor = { list, probes };
      expect(any({ actor }), JSON.stringify(actor)).toBe(probes.some((x) => new Set(list).has(x)));
      expect(all({ actor }), JSON.stringify(actor)).toBe(probes.every((x) => new Set(list).has(x)));
    }
  });
});

describe('time-zone accessors on env.time', () => {
  const zones = ['Europe/London', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/St_Johns', 'UTC'];

  it('agrees with the standard conversion, across DST transitions and odd offsets', () => {
    // Every quarter hour around the 2026 transitions, plus random instants over years.
    const instants: number[] = [];
    for (const start of [Date.UTC(2026, 2, 8), Date.UTC(2026, 2, 29), Date.UTC(2026, 3, 5), Date.UTC(2026, 9, 25), Date.UTC(2026, 10, 1)]) {
      for (let m = -36 * 60; m <= 36 * 60; m += 15) instants.push(start + m * 60_000 + 7_000);
    }
    for (let i = 0; i < 300; i++) instants.push(Date.UTC(2020, 0, 1) + Math.floor(Math.random() * 10 * 365 * 86_400_000));
    for (const zone of zones) {
      for (const ms of instants) {
        const standard = new Date(new Date(ms).toLocaleString('en-US', { timeZone: zone }));
        const fast = new Date(new ServerInstant(ms).toLocaleString('en-US', { timeZone: zone }));
        expect([fast.getFullYear(), fast.getMonth(), fast.getDate(), fast.getDay(), fast.getHours(), fast.getMinutes()], `${zone} ${new Date(ms).toISOString()}`).toEqual([
          standard.getFullYear(),
          standard.getMonth(),
          standard.getDate(),
          standard.getDay(),
          standard.getHours(),
          standard.getMinutes(),
        ]);
      }
    }
  });

  it('still rejects unknown time zones', () => {
    expect(() => new ServerInstant(0).toLocaleString('en-US', { timeZone: 'Not/AZone' })).toThrow(RangeError);
    expect(() => utcOffsetMs('', 0)).toThrow(RangeError);
  });

  it('leaves other toLocaleString calls alone', () => {
    const d = new ServerInstant(Date.UTC(2026, 10, 25, 10, 30));
    expect(d.toLocaleString('en-GB', { timeZone: 'UTC' })).toBe(new Date(d.getTime()).toLocaleString('en-GB', { timeZone: 'UTC' }));
  });
});

/**
 * The clock value conditions see as `env.time`. CEL's time-zone accessors (`getHours(tz)`,
 * `getDayOfWeek(tz)`, ...) in cel-js convert through `toLocaleString('en-US', {timeZone})`,
 * which builds a new Intl formatter on every call (~50–100 µs): far too slow for a decision.
 * This Date answers that one call shape from a cached UTC offset per time zone and quarter
 * hour — every current UTC offset and every DST transition falls on a quarter hour, so the
 * offset is constant inside one — and produces the same local wall-clock text. Other calls,
 * and invalid time zones (which must still fail), go through the standard path.
 */
const QUARTER_HOUR_MS = 15 * 60_000;
const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, number>();
const MAX_CACHED_OFFSETS = 10_000;

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    // Throws RangeError for an unknown zone: the condition errors, which fails closed.
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (formatters.size > 1_000) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Milliseconds to add to a UTC instant to get the wall-clock time in `timeZone`. */
export function utcOffsetMs(timeZone: string, epochMs: number): number {
  const bucket = Math.floor(epochMs / QUARTER_HOUR_MS) * QUARTER_HOUR_MS;
  const key = `${timeZone}\0${bucket}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    const parts: Record<string, number> = {};
    for (const part of formatterFor(timeZone).formatToParts(bucket)) {
      if (part.type !== 'literal') parts[part.type] = Number(part.value);
    }
    offset = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - bucket;
    if (offsets.size >= MAX_CACHED_OFFSETS) offsets.clear();
    offsets.set(key, offset);
  }
  return offset;
}

const pad = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

export class ServerInstant extends Date {
  /** A condition usually asks several accessors in the same zone: convert once. */
  private memoZone: string | undefined;
  private memoText = '';

  override toLocaleString(locales?: Intl.LocalesArgument, options?: Intl.DateTimeFormatOptions): string {
    if (locales === 'en-US' && options !== undefined && typeof options.timeZone === 'string' && Object.keys(options).length === 1) {
      const zone = options.timeZone;
      if (zone === this.memoZone) return this.memoText;
      const local = new Date(this.getTime() + utcOffsetMs(zone, this.getTime()));
      // "M/D/YYYY, HH:MM:SS": the shape `new Date(text)` reads back as local wall-clock time.
      const text = `${local.getUTCMonth() + 1}/${local.getUTCDate()}/${local.getUTCFullYear()}, ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
      this.memoZone = zone;
      this.memoText = text;
      return text;
    }
    return super.toLocaleString(locales, options);
  }
}

let lastInstant: ServerInstant | undefined;

/**
 * The instant for a decision made at `date`. Decisions in the same millisecond share one
 * (timestamps are immutable in CEL), which saves building a Date subclass per decision.
 */
export function serverInstant(date: Date): ServerInstant {
  const ms = date.getTime();
  if (lastInstant === undefined || lastInstant.getTime() !== ms) lastInstant = new ServerInstant(ms);
  return lastInstant;
}

// cel-js recognises a timestamp by `value.constructor === Date`; a ServerInstant must pass
// as one while keeping the faster toLocaleString above.
Object.defineProperty(ServerInstant.prototype, 'constructor', { value: Date, writable: true, configurable: true });

/**
 * google.protobuf.Struct ⇄ plain JavaScript values. proto-loader (with `oneofs: true`) decodes a
 * Struct as `{fields: {k: {kind: 'stringValue', stringValue: 'x'}}}`; policies want `{k: 'x'}`.
 * One small converter, used on the request path, so it avoids closures and JSON round-trips.
 */

/** A decoded google.protobuf.Value (any of the oneof members may be present). */
export interface ValueMessage {
  kind?: string;
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage | null;
  listValue?: { values?: ValueMessage[] | null } | null;
}
export interface StructMessage {
  fields?: Record<string, ValueMessage> | null;
}

/** Struct → plain object; undefined when absent (null) or empty. */
export function structToObject(struct: StructMessage | null | undefined): Record<string, unknown> | undefined {
  if (struct == null) return undefined;
  const fields = struct.fields;
  if (fields == null) return undefined;
  let out: Record<string, unknown> | undefined;
  // Own keys only: protobufjs decodes a map key "__proto__" by assigning it, which replaces
  // the map's prototype, and `for...in` would then list that object's fields as keys.
  for (const key of Object.keys(fields)) {
    out ??= {};
    const value = valueToJs(fields[key]);
    // A key named "__proto__" must stay data: assigning it would replace the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

export function valueToJs(value: ValueMessage | null | undefined): unknown {
  if (value == null) return null;
  switch (value.kind) {
    case 'stringValue':
      return value.stringValue;
    case 'numberValue':
      return value.numberValue;
    case 'boolValue':
      return value.boolValue;
    case 'nullValue':
      return null;
    case 'structValue':
      return structToObject(value.structValue) ?? {};
    case 'listValue':
      return listToArray(value.listValue);
    default:
      // Decoded without `oneofs: true` (or hand-built): look at which member is present.
      if (value.stringValue !== undefined && value.stringValue !== null) return value.stringValue;
      if (value.numberValue !== undefined && value.numberValue !== null) return value.numberValue;
      if (value.boolValue !== undefined && value.boolValue !== null) return value.boolValue;
      if (value.structValue != null) return structToObject(value.structValue) ?? {};
      if (value.listValue != null) return listToArray(value.listValue);
      return null;
  }
}

function listToArray(list: { values?: ValueMessage[] | null } | null | undefined): unknown[] {
  const values = list?.values;
  if (values == null) return [];
  const out = new Array<unknown>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = valueToJs(values[i]);
  return out;
}

/** Plain object → Struct message (for responses such as Admin.GetEntity and for clients). */
export function objectToStruct(obj: Record<string, unknown>): StructMessage {
  const fields: Record<string, ValueMessage> = {};
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v !== undefined) fields[key] = jsToValue(v);
  }
  return { fields };
}

export function jsToValue(v: unknown): ValueMessage {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'number':
      return { numberValue: v };
    case 'bigint':
      return { numberValue: Number(v) };
    case 'boolean':
      return { boolValue: v };
    case 'object':
      if (v === null) return { nullValue: 0 };
      if (Array.isArray(v)) return { listValue: { values: v.map(jsToValue) } };
      if (v instanceof Date) return { stringValue: v.toISOString() };
      return { structValue: objectToStruct(v as Record<string, unknown>) };
    default:
      return { nullValue: 0 };
  }
}

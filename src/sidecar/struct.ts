/** google.protobuf.Struct (as proto-loader decodes it with `oneofs: true`) → plain values. */

interface ValueMessage {
  kind?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage | null;
  listValue?: { values?: ValueMessage[] | null } | null;
}
interface StructMessage {
  fields?: Record<string, ValueMessage> | null;
}

/** undefined when absent or empty (the server reads an empty Struct as no value). */
export function structToObject(struct: StructMessage | null | undefined): Record<string, unknown> | undefined {
  const fields = struct?.fields;
  if (fields == null) return undefined;
  let out: Record<string, unknown> | undefined;
  for (const key in fields) {
    out ??= {};
    out[key] = valueToJs(fields[key]);
  }
  return out;
}

function valueToJs(value: ValueMessage | null | undefined): unknown {
  switch (value?.kind) {
    case 'stringValue':
      return value.stringValue;
    case 'numberValue':
      return value.numberValue;
    case 'boolValue':
      return value.boolValue;
    case 'structValue':
      return structToObject(value.structValue) ?? {};
    case 'listValue':
      return (value.listValue?.values ?? []).map(valueToJs);
    default:
      return null;
  }
}

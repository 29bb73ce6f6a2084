/**
 * Bytes that do not decode as the method's request message are bad input, so the caller gets
 * INVALID_ARGUMENT naming the problem. grpc-js answers a deserializer that throws with
 * INTERNAL ("Error deserializing request") before any handler runs; instead, the service
 * definitions here decode safely into a marker, and every handler is wrapped to refuse it.
 */
import { status, type ServerWritableStream, type ServiceDefinition, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';

const UNDECODABLE = Symbol('charter.undecodable');

interface Undecodable {
  [UNDECODABLE]: string;
}

function isUndecodable(value: unknown): value is Undecodable {
  return typeof value === 'object' && value !== null && UNDECODABLE in value;
}

/** The definition with deserializers that never throw. */
export function withSafeDecoding(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return decode(bytes);
        } catch (error) {
          return { [UNDECODABLE]: (error as Error)?.message ?? String(error) };
        }
      },
    };
  }
  return out as ServiceDefinition;
}

/** The implementation with every handler refusing undecodable requests first. */
export function refusingUndecodable(definition: ServiceDefinition, implementation: UntypedServiceImplementation): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(implementation)) {
    const method = definition[name];
    const message = (problem: string) => `request is not a valid ${method?.path ?? name} message: ${problem}`;
    if (method !== undefined && !method.requestStream && !method.responseStream) {
      out[name] = (call: { request: unknown }, callback: sendUnaryData<unknown>) => {
        if (isUndecodable(call.request)) callback({ code: status.INVALID_ARGUMENT, details: message(call.request[UNDECODABLE]) });
        else (handler as (c: unknown, cb: unknown) => void)(call, callback);
      };
    } else if (method !== undefined && !method.requestStream && method.responseStream) {
      out[name] = (call: ServerWritableStream<unknown, unknown>) => {
        if (isUndecodable(call.request)) call.destroy(Object.assign(new Error(message(call.request[UNDECODABLE])), { code: status.INVALID_ARGUMENT, details: message(call.request[UNDECODABLE]) }));
        else (handler as (c: unknown) => void)(call);
      };
    } else {
      out[name] = handler;
    }
  }
  return out;
}

/**
 * Admission control: at most `maxInFlight` unary calls between "headers received" and "status
 * sent"; beyond that a call is answered RESOURCE_EXHAUSTED at once, before its message is read
 * or decoded, so an overloaded server sheds cheaply instead of queueing work whose callers
 * will have given up.
 *
 * Why a server interceptor and not a counter in the handlers: the Authorization handlers are
 * synchronous, so inside a handler at most one call is ever "in flight". The queue an overload
 * builds is before the handler (received streams waiting for the event loop), and an
 * interceptor's onReceiveMetadata sees a call as soon as its headers arrive. Long-lived streams
 * (Invalidation.Subscribe), health checks and reflection are not counted or refused: probes
 * must keep answering while the server sheds.
 */
import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from '@grpc/grpc-js';

export const DEFAULT_MAX_IN_FLIGHT = 256;

/** Method paths never refused: streams that live as long as a client, probes, reflection. */
export function exemptFromAdmission(path: string): boolean {
  return (
    path === '/charter.v1.Invalidation/Subscribe' ||
    path.startsWith('/grpc.health.v1.Health/') ||
    path.startsWith('/grpc.reflection.')
  );
}

export class Admission {
  private current = 0;
  /** Calls refused since start. */
  rejected = 0;
  /** Highest number of calls in flight seen. */
  peak = 0;

  constructor(readonly maxInFlight: number = DEFAULT_MAX_IN_FLIGHT) {
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${maxInFlight}`);
  }

  get inFlight(): number {
    return this.current;
  }

  /** Takes a slot; false (and counted as rejected) when all are taken. */
  tryEnter(): boolean {
    if (this.current >= this.maxInFlight) {
      this.rejected++;
      return false;
    }
    this.current++;
    if (this.current > this.peak) this.peak = this.current;
    return true;
  }

  leave(): void {
    if (this.current > 0) this.current--;
  }

  /**
   * The grpc-js server interceptor (`new Server({ interceptors: [admission.interceptor()] })`).
   * `onReject` is told about each refused call (metrics).
   */
  interceptor(onReject?: (path: string) => void): ServerInterceptor {
    return (method, call) => {
      if (exemptFromAdmission(method.path)) return new ServerInterceptingCall(call);
      let admitted = false;
      let released = false;
      const release = (): void => {
        if (admitted && !released) {
          released = true;
          this.leave();
        }
      };
      return new ServerInterceptingCall(call, {
        start: (next) => {
          next({
            onReceiveMetadata: (metadata, nextMetadata) => {
              if (!this.tryEnter()) {
                onReject?.(method.path);
                // The handler never starts; the message is never decoded.
                call.sendStatus({
                  code: status.RESOURCE_EXHAUSTED,
                  details: `server overloaded: ${this.maxInFlight} calls in flight (--max-in-flight); retry with backoff`,
                  metadata: new Metadata(),
                });
                return;
              }
              admitted = true;
              nextMetadata(metadata);
            },
            onCancel: release,
          });
        },
        sendStatus: (s, next) => {
          release();
          next(s);
        },
      });
    };
  }
}

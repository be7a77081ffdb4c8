/**
 * Counts the body bytes of one Node response (Express's `res`, Fastify's `reply.raw`, a GraphQL
 * operation's HTTP response) and tells its listeners when the response is over, sent in full or
 * closed early. BandwidthThrottle records what it counted there.
 *
 * The response's own `write` and `end` are wrapped, as own properties of that one response, by two
 * module functions that find the meter on the response: other responses are untouched, and no
 * closure is made per response. What is counted is the body the application hands to the
 * response while the response can still send it (Buffer.byteLength in the chunk's encoding for
 * strings), without headers or chunked framing; nothing for a response that has no body (HEAD,
 * 1xx, 204, 304: Node ignores their writes) and nothing written after the response ended or was
 * destroyed. A client that goes away mid-download is counted what was written until then: the
 * data still in the socket's buffers cannot be told apart from what arrived.
 */

/** The part of a Node ServerResponse (or Http2ServerResponse) the meter uses. */
export interface MeterableResponse {
  write(...args: any[]): boolean;
  end(...args: any[]): unknown;
  once(event: 'close', listener: () => void): unknown;
  readonly statusCode: number;
  readonly destroyed?: boolean;
  readonly writableEnded?: boolean;
  readonly req?: { readonly method?: string };
}

/** Told once when a metered response is over; must not throw (it runs in an event handler). */
export interface ResponseCloseListener<T> {
  responseClosed(meter: ResponseByteMeter, token: T): void;
}

const METER = Symbol('nestjs-throttling:response-byte-meter');

type MeteredResponse = MeterableResponse & { [METER]: ResponseByteMeter };

export class ResponseByteMeter {
  /** Body bytes written so far (see the file's comment for what counts). */
  sent = 0;
  /** Whether the response is over: listeners have been told. */
  closed = false;
  /** listener, token, listener, token...: one array, no object per listener. */
  private readonly listeners: unknown[] = [];

  private constructor(
    readonly response: MeterableResponse,
    /** What `write` and `end` were before the meter wrapped them (the prototype's, or a middleware's wrapper). */
    readonly originalWrite: (...args: any[]) => boolean,
    readonly originalEnd: (...args: any[]) => unknown,
  ) {}

  /**
   * The meter of this response, attached on first call (later calls return the same meter), or
   * undefined when the object is not a Node response (a WebSocket, an RPC context).
   */
  static of(response: unknown): ResponseByteMeter | undefined {
    if (!isMeterable(response)) return undefined;
    const existing = (response as Partial<MeteredResponse>)[METER];
    if (existing !== undefined) return existing;
    const meter = new ResponseByteMeter(response, response.write, response.end);
    const metered = response as MeteredResponse;
    metered[METER] = meter;
    metered.write = meteredWrite;
    metered.end = meteredEnd;
    response.once('close', closeMeter);
    return meter;
  }

  /** The meter already attached to this response, if any. */
  static on(response: unknown): ResponseByteMeter | undefined {
    return response !== null && typeof response === 'object' ? (response as Partial<MeteredResponse>)[METER] : undefined;
  }

  /**
   * Tells `listener` (with `token`) when the response is over. A listener already told about this
   * response is not added again, so a throttle asked twice about one request counts it once.
   * Returns false when it was not added (already listening, or the response is over).
   */
  onClose<T>(listener: ResponseCloseListener<T>, token: T): boolean {
    if (this.closed) return false;
    const { listeners } = this;
    for (let i = 0; i < listeners.length; i += 2) if (listeners[i] === listener) return false;
    listeners.push(listener, token);
    return true;
  }

  /** The bytes `chunk` puts into the body if written now (0 when nothing would be sent). */
  countable(chunk: unknown, encoding: unknown): number {
    if (chunk === null || chunk === undefined || typeof chunk === 'function') return 0;
    const { response } = this;
    if (response.destroyed === true || response.writableEnded === true || !hasBody(response)) return 0;
    if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    return ArrayBuffer.isView(chunk) ? chunk.byteLength : 0;
  }

  /** Runs the listeners once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const { listeners } = this;
    for (let i = 0; i < listeners.length; i += 2) {
      try {
        (listeners[i] as ResponseCloseListener<unknown>).responseClosed(this, listeners[i + 1]);
      } catch (error) {
        // An exception here would be an uncaught one (an event handler): a warning, never a crash.
        const reason = (error as Error | undefined)?.message ?? String(error);
        process.emitWarning(`a listener of a metered response threw: ${reason}`, { code: 'NESTJS_THROTTLING_METER' });
      }
    }
    listeners.length = 0;
  }
}

/** Node's rule (ServerResponse): HEAD, 1xx, 204 and 304 responses have no body, and their writes are dropped. */
function hasBody(response: MeterableResponse): boolean {
  const status = response.statusCode;
  return response.req?.method !== 'HEAD' && status !== 204 && status !== 304 && !(status >= 100 && status < 200);
}

function isMeterable(response: unknown): response is MeterableResponse {
  if (response === null || typeof response !== 'object') return false;
  const candidate = response as Partial<MeterableResponse>;
  return typeof candidate.write === 'function' && typeof candidate.end === 'function' && typeof candidate.once === 'function';
}

// Counted after the original returns: a write that throws (a bad argument) sent nothing.
function meteredWrite(this: MeteredResponse, chunk: unknown, encoding?: unknown): boolean {
  const meter = this[METER];
  const bytes = meter.countable(chunk, encoding);
  const written = meter.originalWrite.apply(this, arguments as unknown as unknown[]);
  meter.sent += bytes;
  return written;
}

function meteredEnd(this: MeteredResponse, chunk?: unknown, encoding?: unknown): unknown {
  const meter = this[METER];
  const bytes = meter.countable(chunk, encoding);
  const ended = meter.originalEnd.apply(this, arguments as unknown as unknown[]);
  meter.sent += bytes;
  return ended;
}

function closeMeter(this: MeteredResponse): void {
  this[METER].close();
}

/**
 * The bytes a request body carried, for BandwidthThrottle's `countRequestBody`. Read when the
 * response is over (`received()`), since an upload is often read by the handler, after throttling.
 *
 * - A body with a Content-Length that arrived in full counts that length: Node's parser makes a
 *   message complete only after exactly that many bytes.
 * - Otherwise (chunked, or an upload cut short) it counts the bytes the server read: those already
 *   buffered when the meter was attached plus what Node's parser pushes into the request stream
 *   afterwards (`push` is wrapped on that one request, as the response meter wraps `write`). A
 *   body Node discarded unread (the response ended first) is not counted beyond what was read.
 * - A chunked body a body parser consumed before throttling ran has left no trace: it counts its
 *   `rawBody` when the app keeps one (`NestFactory.create(..., { rawBody: true })`), else its
 *   size is unknown (`unknownSize`) and it counts 0.
 */

export interface MeterableRequest {
  push(...args: any[]): boolean;
  readonly headers: Record<string, string | string[] | undefined>;
  /** True once the whole message has been received (http.IncomingMessage). */
  readonly complete?: boolean;
  readonly readableLength?: number;
}

const METER = Symbol('nestjs-throttling:request-body-meter');

type MeteredRequest = MeterableRequest & { [METER]: RequestBodyMeter };

export class RequestBodyMeter {
  /** Bytes seen in the request stream since (and buffered at) attaching. */
  private read: number;
  /** The body was consumed before the meter saw it: only Content-Length or rawBody can tell its size. */
  private readonly consumedBefore: boolean;

  private constructor(
    readonly request: MeterableRequest,
    /** What `push` was before the meter wrapped it. */
    readonly originalPush: (...args: any[]) => boolean,
    /** Content-Length, when the request declares a valid one. */
    readonly declared: number | undefined,
    private readonly rawBody: unknown,
  ) {
    const buffered = typeof request.readableLength === 'number' ? request.readableLength : 0;
    this.read = buffered;
    this.consumedBefore = request.complete === true && buffered === 0;
  }

  /**
   * The meter of this request (Express's `req`, Fastify's `request.raw`), attached on first call,
   * or undefined when it is not a Node request. `rawBody`: the body kept by the app, if any
   * (Nest's `rawBody` option keeps it on Express's req and on the FastifyRequest).
   */
  static of(request: unknown, rawBody?: unknown): RequestBodyMeter | undefined {
    if (!isMeterable(request)) return undefined;
    const existing = (request as Partial<MeteredRequest>)[METER];
    if (existing !== undefined) return existing;
    const meter = new RequestBodyMeter(request, request.push, contentLength(request.headers['content-length']), rawBody);
    const metered = request as MeteredRequest;
    metered[METER] = meter;
    metered.push = meteredPush;
    return meter;
  }

  /** The meter already attached to this request, if any. */
  static on(request: unknown): RequestBodyMeter | undefined {
    return request !== null && typeof request === 'object' ? (request as Partial<MeteredRequest>)[METER] : undefined;
  }

  /** The body's bytes as far as they are known now (see the file's comment). */
  received(): number {
    if (this.declared !== undefined && this.request.complete === true) return this.declared;
    if (this.consumedBefore) return rawBodyLength(this.rawBody) ?? 0;
    return this.read;
  }

  /** True when the body was consumed before the meter saw it and nothing says how long it was. */
  get unknownSize(): boolean {
    return this.consumedBefore && this.declared === undefined && rawBodyLength(this.rawBody) === undefined && this.request.headers['transfer-encoding'] !== undefined;
  }

  /** Adds what the parser pushes (null ends the stream). */
  counted(chunk: unknown, encoding: unknown): void {
    if (typeof chunk === 'string') this.read += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (ArrayBuffer.isView(chunk)) this.read += chunk.byteLength;
  }
}

/** A Content-Length Node accepted: digits only (Node refuses others with a 400 before any handler). */
function contentLength(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : undefined;
}

function rawBodyLength(rawBody: unknown): number | undefined {
  if (ArrayBuffer.isView(rawBody)) return rawBody.byteLength;
  return typeof rawBody === 'string' ? Buffer.byteLength(rawBody) : undefined;
}

function isMeterable(request: unknown): request is MeterableRequest {
  if (request === null || typeof request !== 'object') return false;
  const candidate = request as Partial<MeterableRequest>;
  return typeof candidate.push === 'function' && candidate.headers !== null && typeof candidate.headers === 'object';
}

function meteredPush(this: MeteredRequest, chunk: unknown, encoding?: unknown): boolean {
  this[METER].counted(chunk, encoding);
  return this[METER].originalPush.apply(this, arguments as unknown as unknown[]);
}

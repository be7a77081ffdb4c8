import { createHash } from 'node:crypto';
import type { ThrottleDecision } from '../throttles/throttle.js';

/**
 * - 'ietf': `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers, structured
 *   field lists with one item per policy: `"user";q=1000;w=86400` and `"user";r=999;t=86400`; a
 *   policy that counts something else than requests says so: `"bandwidth";q=1000000;w=60;qu="content-bytes"`);
 * - 'legacy': `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds) for the
 *   most restrictive policy;
 * - 'both', or false for none.
 *
 * Names are written in lower case, as HTTP/2 requires and Fastify does anyway; HTTP/1.1 header
 * names are case-insensitive, and a lower-case name spares the adapter a conversion per response.
 */
export type RateLimitHeaderMode = 'ietf' | 'legacy' | 'both' | false;

export const RATE_LIMIT_HEADER_MODES: readonly RateLimitHeaderMode[] = ['ietf', 'legacy', 'both', false];

export type HeaderWriter = (name: string, value: string) => void;

/**
 * What the headers of one route keep from one response to the next: the `RateLimit-Policy` value
 * and each policy's quoted name. A route's policies rarely change (only a throttle that picks its
 * rate per request changes them), so the per-response work is comparing three fields per policy
 * and building the `RateLimit` value alone.
 */
export class RateLimitHeaderCache {
  /** Per decision index: what the cached strings were built from. */
  private readonly policies: (string | undefined)[] = [];
  private readonly limits: (number | undefined)[] = [];
  private readonly windows: (number | undefined)[] = [];
  private readonly quotaUnits: (string | undefined)[] = [];
  /** Per decision index: `"name";r=` (the start of its `RateLimit` item), after `, ` unless it is the first. */
  private readonly statePrefixes: string[] = [];
  private policyValue = '';

  /** The `RateLimit-Policy` value for these decisions, rebuilt only when a policy changed. */
  policyHeader(decisions: readonly ThrottleDecision[]): string {
    if (!this.matches(decisions)) this.rebuild(decisions);
    return this.policyValue;
  }

  /** The start of the `RateLimit` item of decision i; valid after policyHeader(). */
  statePrefix(index: number): string {
    return this.statePrefixes[index];
  }

  private matches(decisions: readonly ThrottleDecision[]): boolean {
    if (decisions.length !== this.limits.length) return false;
    for (let i = 0; i < decisions.length; i++) {
      const decision = decisions[i];
      if (decision.limit !== this.limits[i] || decision.window !== this.windows[i] || decision.policy !== this.policies[i] || decision.quotaUnit !== this.quotaUnits[i]) return false;
    }
    return true;
  }

  private rebuild(decisions: readonly ThrottleDecision[]): void {
    let value = '';
    let items = 0;
    this.policies.length = this.limits.length = this.windows.length = this.quotaUnits.length = this.statePrefixes.length = decisions.length;
    for (let i = 0; i < decisions.length; i++) {
      const { limit, window, policy, quotaUnit } = decisions[i];
      this.policies[i] = policy;
      this.limits[i] = limit;
      this.windows[i] = window;
      this.quotaUnits[i] = quotaUnit;
      const name = policyName(policy, i);
      const separator = items === 0 ? '' : ', ';
      this.statePrefixes[i] = `${separator}${name};r=`;
      if (limit === undefined) continue;
      items++;
      value += `${separator}${name};q=${limit}${window === undefined ? '' : `;w=${Math.ceil(window)}`}${quotaUnit === undefined ? '' : `;qu=${quotaUnitItem(quotaUnit)}`}`;
    }
    this.policyValue = value;
  }
}

/**
 * Writes the headers for the decisions that know their limit; nothing when none does. `cache`
 * (one per route) saves rebuilding what does not change between responses.
 */
export function writeRateLimitHeaders(
  write: HeaderWriter,
  decisions: readonly ThrottleDecision[],
  mode: RateLimitHeaderMode,
  cache: RateLimitHeaderCache = new RateLimitHeaderCache(),
): void {
  emitRateLimitHeaders(CALL_WRITER, write, decisions, mode, cache);
}

/** Where the guard writes headers: `sink.setHeader(target, name, value)`, a TransportBinding for one. */
export interface HeaderSink<T> {
  setHeader(target: T, name: string, value: string): void;
}

const CALL_WRITER: HeaderSink<HeaderWriter> = { setHeader: (write, name, value) => write(name, value) };

/**
 * writeRateLimitHeaders() for the guard's hot path: the target travels as an argument, so no
 * closure is allocated per response, and setHeader is called as a method of the sink, so a
 * class-based TransportBinding keeps its `this`.
 */
export function emitRateLimitHeaders<T>(
  sink: HeaderSink<T>,
  target: T,
  decisions: readonly ThrottleDecision[],
  mode: RateLimitHeaderMode,
  cache: RateLimitHeaderCache,
): void {
  if (mode === false) return;
  let states = '';
  let tightest: ThrottleDecision | undefined;
  const ietf = mode !== 'legacy';
  const policies = ietf ? cache.policyHeader(decisions) : '';
  for (let i = 0; i < decisions.length; i++) {
    const decision = decisions[i];
    if (decision.limit === undefined) continue;
    if (ietf) states += `${cache.statePrefix(i)}${decision.remaining ?? 0};t=${Math.ceil(decision.reset ?? 0)}`;
    if (tightest === undefined || isTighter(decision, tightest)) tightest = decision;
  }
  if (tightest === undefined) return;
  if (ietf) {
    sink.setHeader(target, 'ratelimit-policy', policies);
    sink.setHeader(target, 'ratelimit', states);
  }
  if (mode === 'legacy' || mode === 'both') {
    sink.setHeader(target, 'x-ratelimit-limit', String(tightest.limit));
    sink.setHeader(target, 'x-ratelimit-remaining', String(tightest.remaining ?? 0));
    sink.setHeader(target, 'x-ratelimit-reset', String(Math.ceil(tightest.reset ?? 0)));
  }
}

function isTighter(candidate: ThrottleDecision, current: ThrottleDecision): boolean {
  const a = candidate.remaining ?? 0;
  const b = current.remaining ?? 0;
  return a < b || (a === b && (candidate.reset ?? 0) > (current.reset ?? 0));
}

/**
 * `qu`'s value, an sf-string: the draft's units ('request', 'content-bytes', 'concurrency') as they
 * are; anything else a custom throttle hands is escaped as policy names are.
 */
function quotaUnitItem(unit: string): string {
  return policyItemName(String(unit));
}

/** The name of a policy, as a header item. */
function policyName(policy: string | undefined, index: number): string {
  return policyItemName(policyLabel(policy, index));
}

/**
 * The name of the policy of decision `index`: its scope, or a positional name when the throttle has
 * none. Also what a problem body's `violated-policies` lists, so a client can match it to the header.
 */
export function policyLabel(policy: string | undefined, index: number): string {
  // A custom throttle may hand any value as its policy; a header must never be what fails a response.
  return policy === undefined ? `policy${index + 1}` : String(policy);
}

/**
 * Longest policy name written, counted in the characters between the quotes: names are user text (a
 * scope), and a header line a server or proxy refuses would lose the response.
 */
export const MAX_POLICY_NAME_LENGTH = 64;

/** Printable ASCII that stands for itself: everything from 0x20 to 0x7E but `"`, `%` and `\`. */
const PLAIN_NAME = /^[\x20\x21\x23\x24\x26-\x5B\x5D-\x7E]*$/;
const UTF8 = new TextEncoder();

/**
 * A scope as an RFC 9651 sf-string (printable ASCII in quotes), reversibly: `"` and `\` are escaped
 * with a backslash; `%` and every character outside printable ASCII (control characters, DEL,
 * non-ASCII) are percent-encoded as their UTF-8 bytes (`上传` -> `%E4%B8%8A%E4%BC%A0`, `%` -> `%25`),
 * so unescaping and then percent-decoding gives the scope back. A name whose encoding exceeds
 * MAX_POLICY_NAME_LENGTH is shortened to a prefix of it, `~` and the first 8 hex digits of the
 * SHA-256 of the scope's UTF-8. Runs when a route's header cache rebuilds, not per response.
 */
export function policyItemName(name: string): string {
  if (name.length <= MAX_POLICY_NAME_LENGTH && PLAIN_NAME.test(name)) return `"${name}"`;
  const pieces: string[] = [];
  let length = 0;
  for (const char of name) {
    const piece = encodeNameChar(char);
    pieces.push(piece);
    length += piece.length;
  }
  if (length <= MAX_POLICY_NAME_LENGTH) return `"${pieces.join('')}"`;
  // Whole pieces only, so no escape is cut in two.
  const digest = `~${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  let prefix = '';
  for (const piece of pieces) {
    if (prefix.length + piece.length + digest.length > MAX_POLICY_NAME_LENGTH) break;
    prefix += piece;
  }
  return `"${prefix}${digest}"`;
}

function encodeNameChar(char: string): string {
  if (char === '"' || char === '\\') return `\\${char}`;
  const code = char.charCodeAt(0);
  if (code >= 0x20 && code <= 0x7e && char !== '%') return char;
  // A lone surrogate encodes as U+FFFD, as TextEncoder writes it.
  let encoded = '';
  for (const byte of UTF8.encode(char)) encoded += `%${byte < 16 ? '0' : ''}${byte.toString(16).toUpperCase()}`;
  return encoded;
}

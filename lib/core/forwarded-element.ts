/**
 * The `for=` node of one RFC 7239 Forwarded element (`for="[2001:db8::1]:4711";proto=https;by=...`):
 * pairs are split on `;`, the parameter name is case-insensitive, a quoted value is unquoted
 * (`\x` stands for `x`). An element without `for=` is `unknown` (RFC 7239 section 6.2: the proxy
 * did not say who it received the request from).
 *
 * Elements are split on every comma and pairs on every semicolon, quoted or not: no node (an
 * address, `unknown` or an `_obfuscated` identifier) contains either, and a quote a client leaves
 * open must not swallow the elements the proxies appended after it.
 */
export function forwardedFor(header: string, start: number, end: number): string {
  let pairStart = start;
  while (pairStart < end) {
    let pairEnd = header.indexOf(';', pairStart);
    if (pairEnd === -1 || pairEnd > end) pairEnd = end;
    const equals = header.indexOf('=', pairStart);
    if (equals !== -1 && equals < pairEnd && isFor(header, pairStart, equals)) return unquote(header.slice(equals + 1, pairEnd).trim());
    pairStart = pairEnd + 1;
  }
  return 'unknown';
}

/** Whether header[start, end) is `for`, in any case, with optional whitespace around it. */
function isFor(header: string, start: number, end: number): boolean {
  while (start < end && isSpace(header.charCodeAt(start))) start++;
  while (end > start && isSpace(header.charCodeAt(end - 1))) end--;
  return end - start === 3 && (header.charCodeAt(start) | 0x20) === F && (header.charCodeAt(start + 1) | 0x20) === O && (header.charCodeAt(start + 2) | 0x20) === R;
}

/** `"..."` -> its content with quoted-pairs resolved; anything else (an unclosed quote too) as it is. */
function unquote(value: string): string {
  if (value.length < 2 || value.charCodeAt(0) !== QUOTE || value.charCodeAt(value.length - 1) !== QUOTE) return value;
  const inner = value.slice(1, -1);
  return inner.indexOf('\\') === -1 ? inner : inner.replace(/\\(.)/gs, '$1');
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9;
}

const QUOTE = 34;
const F = 102;
const O = 111;
const R = 114;

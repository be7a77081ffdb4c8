import { STORE_UNAVAILABLE_MESSAGE } from './store-unavailable-message.js';
import { throttledMessage } from './throttled.exception.js';
import { OptionalPeer } from './optional-peer.js';

type WebSocketsPackage = typeof import('@nestjs/websockets');

// Nest's BaseWsExceptionFilter delivers only WsException payloads as they are; anything else
// becomes "Internal server error". Loaded when installed: apps without gateways need no @nestjs/websockets.
const websockets = new OptionalPeer<WebSocketsPackage>('@nestjs/websockets');

/** The payload a throttled WebSocket client receives in its `exception` event. */
export interface WsThrottledPayload {
  readonly status: 'error';
  readonly message: string;
  /** Whole seconds until the client may retry, or null when unknown. */
  readonly retryAfter: number | null;
}

/** A WsException `{ status: 'error', message, retryAfter }` for a store outage under onStoreError 'deny'. */
export function wsStoreUnavailableError(retryAfter: number | null = null): Error {
  const { WsException } = websockets.require('a ws request hit a store outage');
  return new WsException({ status: 'error', message: STORE_UNAVAILABLE_MESSAGE, retryAfter });
}

/** A WsException `{ status: 'error', message, retryAfter }`, emitted by Nest as the `exception` event. */
export function wsThrottledError(wait: number | null): Error {
  const retryAfter = wait === null ? null : Math.ceil(wait);
  const payload: WsThrottledPayload = { status: 'error', message: throttledMessage(retryAfter), retryAfter };
  const { WsException } = websockets.require('a ws request was throttled');
  return new WsException(payload);
}

import type { ExecutionContext } from '@nestjs/common';
import type { ClientIdentity } from '../../core/client-identity.js';
import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import type { ThrottleContext } from '../../throttles/throttle.js';
import type { TransportBinding, TransportSettings } from './transport-binding.js';
import { STORE_UNAVAILABLE_MESSAGE } from './store-unavailable-message.js';
import { throttledMessage } from './throttled.exception.js';
import { OptionalPeer } from './optional-peer.js';
import { waitSeconds } from '../../core/wait.js';
import { problemPayload, type ProblemPayload, throttledProblem, unavailableProblem } from './problem-errors.js';
import type { QuotaExceededProblem } from '../../http/problem-details.js';
import type { ThrottleDecision } from '../../throttles/throttle.js';

/**
 * WebSocket gateways on @nestjs/platform-socket.io and @nestjs/platform-ws. One message is one
 * request: the handler's argument list, created per message, is the token.
 */
export const wsTransport: TransportBinding = {
  requestToken: (context) => context.getArgs(),

  createContext(context: ExecutionContext, scope: string | undefined, settings: TransportSettings, cost?: number): ThrottleContext {
    const ws = context.switchToWs();
    const client = ws.getClient();
    const user = wsUserOf(client);
    const userId = settings.userId(client, user);
    const pattern = ws.getPattern();
    return {
      transport: 'ws',
      request: client,
      response: undefined,
      ident: wsClientIdent(client, settings.clientIdentity),
      user,
      userId,
      scope,
      controller: context.getClass(),
      handler: context.getHandler(),
      method: 'WS',
      url: typeof pattern === 'string' ? pattern : String(pattern ?? ''),
      cost,
    };
  },

  // A message has no response to carry headers.
  setHeader: () => undefined,

  throttledError: (wait, _ctx, denial) => (denial?.errorFormat === 'problem' ? wsThrottledProblem(wait, denial.decisions) : wsThrottledError(wait)),

  unavailableError: (_ctx, retryAfter, errorFormat) => (errorFormat === 'problem' ? wsUnavailableProblem(retryAfter) : wsStoreUnavailableError(retryAfter)),
};

/**
 * Where an auth step leaves the user of a socket: socket.io's `client.data.user` (the documented
 * per-socket store), else `client.user`, else the upgrade request's `user` (socket.io's `client.request`).
 */
export function wsUserOf(client: any): unknown {
  return client?.data?.user ?? client?.user ?? client?.request?.user;
}

/**
 * The client ident of a socket, by the module's ClientIdentity on the handshake. socket.io keeps
 * the handshake (`client.handshake.address` / `.headers`); a native `ws` client keeps only its TCP
 * socket, so behind proxies the gateway must hand over the upgrade request with
 * rememberWsUpgradeRequest() in handleConnection. Neither adapter resolves proxies itself.
 */
export function wsClientIdent(client: any, identity: ClientIdentity): string {
  const handshake = client?.handshake;
  if (handshake !== undefined) {
    if (identity.adapterDecides) {
      if (identity.watchesForwarding) watchForwarding(handshake.headers, identity);
      return identity.ofAddress(handshake.address);
    }
    const header = handshake.headers?.[identity.headerName];
    return identity.fromHeaders(handshake.address, header);
  }
  const upgrade = wsUpgradeRequestOf(client);
  const socketAddress: string | undefined = upgrade?.socket?.remoteAddress ?? client?._socket?.remoteAddress;
  if (!identity.readsHeader) {
    if (identity.watchesForwarding) watchForwarding(upgrade?.headers, identity);
    return identity.ofAddress(socketAddress);
  }
  if (upgrade === undefined) {
    // Without the headers every client behind the proxy would share the proxy's bucket.
    throw new ThrottleConfigError(
      `ThrottlingModule: ${identity.describeRule()} but this ws gateway did not hand over the upgrade request; ` +
        `call rememberWsUpgradeRequest(client, request) in its handleConnection(client, request)`,
    );
  }
  return identity.fromHeaders(socketAddress, upgrade.headers?.[identity.headerName]);
}

function watchForwarding(headers: any, identity: ClientIdentity): void {
  if (headers === undefined || headers === null) return;
  if (headers['x-forwarded-for'] !== undefined) identity.noticeForwarding('X-Forwarded-For', false);
  else if (headers.forwarded !== undefined) identity.noticeForwarding('Forwarded', false);
}

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
  const retryAfter = waitSeconds(wait);
  const payload: WsThrottledPayload = { status: 'error', message: throttledMessage(retryAfter), retryAfter };
  const { WsException } = websockets.require('a ws request was throttled');
  return new WsException(payload);
}

/**
 * The HTTP upgrade request of each native `ws` client. A `ws` WebSocket does not keep the request
 * it was opened with, and the guard only sees messages; a gateway hands it over in
 * `handleConnection(client, request)` so that `numProxies` can read its X-Forwarded-For header.
 * Weakly held: a closed client is forgotten.
 */
const upgradeRequests = new WeakMap<object, any>();

/** Call from `handleConnection(client, request)` of a @nestjs/platform-ws gateway. */
export function rememberWsUpgradeRequest(client: object, request: unknown): void {
  upgradeRequests.set(client, request);
}

export function wsUpgradeRequestOf(client: object): any {
  return upgradeRequests.get(client);
}

/** errorFormat 'problem': the problem's members, and `message` (the same text as `detail`). */
export type WsThrottledProblemPayload = ProblemPayload<QuotaExceededProblem>;

export function wsThrottledProblem(wait: number | null, decisions: readonly ThrottleDecision[]): Error {
  const { WsException } = websockets.require('a ws request was throttled');
  return new WsException(problemPayload(throttledProblem(wait, decisions)));
}

export function wsUnavailableProblem(retryAfter: number | null): Error {
  const { WsException } = websockets.require('a ws request hit a store outage');
  return new WsException(problemPayload(unavailableProblem(retryAfter)));
}

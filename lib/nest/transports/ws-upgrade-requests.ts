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

import { graphqlTransport } from './graphql-transport.js';
import { httpTransport } from './http-transport.js';
import { rpcTransport } from './rpc-transport.js';
import type { TransportBinding } from './transport-binding.js';
import { wsTransport } from './ws-transport.js';

/** The transports the guard throttles, by ExecutionContext.getType(). Others pass untouched. */
export const TRANSPORT_BINDINGS: Readonly<Record<string, TransportBinding | undefined>> = {
  http: httpTransport,
  graphql: graphqlTransport,
  ws: wsTransport,
  rpc: rpcTransport,
};

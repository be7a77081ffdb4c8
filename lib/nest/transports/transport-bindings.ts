import { graphqlTransport } from './graphql-transport.js';
import { httpTransport } from './http-transport.js';
import { rpcTransport } from './rpc-transport.js';
import type { TransportBinding } from './transport-binding.js';
import { wsTransport } from './ws-transport.js';

/** The built-in bindings, by ExecutionContext.getType(); the `transports` option adds to them or replaces them. */
export const TRANSPORT_BINDINGS: Readonly<Record<string, TransportBinding | undefined>> = {
  http: httpTransport,
  graphql: graphqlTransport,
  ws: wsTransport,
  rpc: rpcTransport,
};

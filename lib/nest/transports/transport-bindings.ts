import { httpTransport } from './http-transport.js';
import type { TransportBinding } from './transport-binding.js';

/** The transports the guard throttles, by ExecutionContext.getType(). Others pass untouched. */
export const TRANSPORT_BINDINGS: Readonly<Record<string, TransportBinding | undefined>> = {
  http: httpTransport,
};

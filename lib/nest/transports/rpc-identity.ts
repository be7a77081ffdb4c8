import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import type { RpcIdentityReader } from '../throttling-options.interface.js';

/**
 * Turns the `rpcIdentity` option into a reader: a function is used as it is; a string is a path of
 * payload fields (`'clientId'`, `'meta.tenant'`), split once at boot.
 */
export function rpcIdentityReader(option: unknown): RpcIdentityReader | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'function') return option as RpcIdentityReader;
  if (typeof option !== 'string' || option.trim() === '' || option.split('.').some((part) => part === '')) {
    throw new ThrottleConfigError(
      `ThrottlingModule: rpcIdentity must be a payload field path such as 'clientId' or 'meta.tenant', or a function (data, context) => identity, got ${describeOption(option)}`,
    );
  }
  const path = option.split('.');
  return (data) => {
    let value: any = data;
    for (const field of path) {
      if (value === null || typeof value !== 'object') return undefined;
      value = value[field];
    }
    return typeof value === 'string' || typeof value === 'number' ? value : undefined;
  };
}

function describeOption(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

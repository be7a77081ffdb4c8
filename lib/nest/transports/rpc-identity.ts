import { ThrottleConfigError } from '../../core/throttle-config-error.js';
import type { RpcIdentityReader } from '../module/throttling-options.interface.js';
import { describeValue } from '../../core/describe-value.js';

/**
 * Turns the `rpcIdentity` option into a reader: a function is used as it is; a string is a path of
 * payload fields (`'clientId'`, `'meta.tenant'`), split once at boot.
 */
export function rpcIdentityReader(option: unknown): RpcIdentityReader | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'function') return option as RpcIdentityReader;
  if (typeof option !== 'string' || option.trim() === '' || option.split('.').some((part) => part === '')) {
    throw new ThrottleConfigError(
      `ThrottlingModule: rpcIdentity must be a payload field path such as 'clientId' or 'meta.tenant', or a function (data, context) => identity, got ${describeValue(option)}`,
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

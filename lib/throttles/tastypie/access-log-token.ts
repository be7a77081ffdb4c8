/** The AccessLog that CacheDBThrottle writes to (provided by ThrottlingModule from its `accessLog` option). */
export const ACCESS_LOG = Symbol('nestjs-throttling:access-log');

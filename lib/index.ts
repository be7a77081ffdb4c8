// Core: rates, algorithms, stores (no Nest imports).
export { type Clock, systemClock } from './core/clock.js';
export { parseRate, formatRate, type Rate, type RateInput } from './core/rate.js';
export { slidingLogWait } from './core/wait.js';
export { ThrottleConfigError } from './core/throttle-config-error.js';
export type { Awaitable, HitResult, RecordedHit, Settlement, ThrottleStore, WindowCheck, WindowState } from './core/store.js';
export { identFromForwardedFor, normalizeAddress } from './core/client-address.js';
export { ClientIdentity, type ClientIdentityOptions, type ForwardedHeaderName, MAX_IDENT_LENGTH } from './core/client-identity.js';
export { MemoryThrottleStore, type MemoryThrottleStoreOptions } from './stores/memory-throttle-store.js';
export { CacheManagerThrottleStore, type CacheLike, type CacheManagerThrottleStoreOptions } from './stores/cache-manager-throttle-store.js';

// Throttles.
export { ALLOWED, DENIED, type ReservedDecision, type Throttle, type ThrottleContext, type ThrottleDecision, type ThrottleTransport } from './throttles/throttle.js';
export { SimpleRateThrottle, type RateThrottleOverrides } from './throttles/simple-rate-throttle.js';
export { AnonThrottle } from './throttles/anon-throttle.js';
export { UserThrottle } from './throttles/user-throttle.js';
export { ScopedThrottle } from './throttles/scoped-throttle.js';
// Bandwidth: byte budgets counted on the bytes sent (and optionally received).
export { BandwidthThrottle, type BandwidthThrottleOverrides, type BandwidthAlgorithm, BANDWIDTH_ALGORITHMS, CONTENT_BYTES } from './throttles/bandwidth-throttle.js';
export { parseByteRate, formatByteRate, type ByteRateInput, BYTE_UNITS } from './core/byte-rate.js';
export { ResponseByteMeter, type MeterableResponse, type ResponseCloseListener } from './http/response-byte-meter.js';
export { RequestBodyMeter, type MeterableRequest } from './http/request-body-meter.js';
export { evaluateThrottles, settleEvaluation, type Evaluation } from './throttles/evaluate-throttles.js';
export type { ThrottlingRuntime } from './throttles/throttling-runtime.js';

// Nest layer.
export { ThrottlingModule } from './nest/module/throttling.module.js';
export { ThrottlingGuard } from './nest/enforcement/throttling.guard.js';
export { ThrottlingInterceptor } from './nest/enforcement/throttling.interceptor.js';
export { ThrottleClasses } from './nest/decorators/throttle-classes.decorator.js';
export { ThrottleScope } from './nest/decorators/throttle-scope.decorator.js';
export { ThrottledException, throttledMessage } from './nest/transports/throttled.exception.js';
export { ThrottleRegistry, type RoutePlan } from './nest/enforcement/throttle-registry.js';
export { defaultUserId, type ThrottlingSettings } from './nest/module/throttling-settings.js';
export { THROTTLING_OPTIONS, THROTTLING_RUNTIME, THROTTLING_SETTINGS, THROTTLE_CLASSES_METADATA, THROTTLE_COST_METADATA, THROTTLE_SCOPE_METADATA } from './nest/module/tokens.js';
export { ThrottleShadow } from './nest/decorators/throttle-shadow.decorator.js';
// Algorithms and cost, per rate throttle (docs/algorithms.md).
export { ThrottleCost } from './nest/decorators/throttle-cost.decorator.js';
export { type CountingAlgorithm, COUNTING_ALGORITHMS, type PeekCounting } from './core/store.js';
export type { AlgorithmOutcome } from './core/algorithms/algorithm-outcome.js';
export type { CountingOptions, ThrottleCostOption } from './throttles/counting-options.js';
export type { RateBucket } from './throttles/simple-rate-throttle.js';
export type { RateSpec } from './nest/enforcement/throttling.service.js';
export type { BucketReading } from './nest/enforcement/throttle-admin.js';
export { type ThrottleMode, THROTTLE_MODES } from './core/throttle-mode.js';
export { THROTTLING_EVENTS, type OnStoreStateChangeHook, type OnThrottledHook, type ThrottledEvent, type ThrottledInfo } from './nest/enforcement/throttling-notifier.js';
export { type ThrottlingMetricsOptions, type MeterProviderLike, type PrometheusRegistryLike } from './metrics/metrics-options.js';
export { type ThrottlingMetrics, type DecisionOutcome, type StoreOperation, type StoreCallResult, DECISION_OUTCOMES, FanOutThrottlingMetrics } from './metrics/throttling-metrics.js';
export { createThrottlingMetrics } from './metrics/create-throttling-metrics.js';
export { PROMETHEUS_METRIC_NAMES, OTEL_METRIC_NAMES, OTEL_ATTRIBUTES, METER_NAME, STORE_CALL_BUCKETS_SECONDS } from './metrics/metric-names.js';
export { LOCAL_FALLBACK_STORE_LABEL } from './stores/store-label.js';
export type {
  EnforcementPoint,
  ThrottlingModuleAsyncOptions,
  ThrottlingModuleOptions,
  ThrottlingOptionsFactory,
} from './nest/module/throttling-options.interface.js';
export { type RateLimitHeaderMode, writeRateLimitHeaders } from './http/rate-limit-headers.js';
export { type ErrorFormat, PROBLEM_JSON, QUOTA_EXCEEDED_TITLE, QUOTA_EXCEEDED_TYPE, type QuotaExceededProblem, type ServiceUnavailableProblem } from './http/problem-details.js';
export { GraphQLThrottledProblemError } from './nest/transports/graphql-transport.js';
export type { WsThrottledProblemPayload } from './nest/transports/ws-transport.js';
export type { RpcThrottledProblemPayload } from './nest/transports/rpc-transport.js';
export { RedisThrottleStore, type RedisThrottleStoreOptions } from './stores/redis/redis-throttle-store.js';
export type { DenyCacheOption } from './stores/redis/deny-cache.js';
export { FailSafeThrottleStore, type FailSafeThrottleStoreOptions, type StoreErrorPolicy, type StoreStateChange } from './stores/fail-safe-throttle-store.js';
export { StoreUnavailableError, StoreTimeoutError } from './stores/store-unavailable-error.js';

// Transports: GraphQL, WebSockets, microservices (the guard picks the binding by context type).
export type { RpcIdentityReader, ThrottleDenial, TransportBinding, TransportSettings, UserIdReader } from './nest/transports/transport-binding.js';
export { TRANSPORT_BINDINGS } from './nest/transports/transport-bindings.js';
export { GraphQLThrottledError } from './nest/transports/graphql-transport.js';
export { rememberWsUpgradeRequest } from './nest/transports/ws-transport.js';
export type { WsThrottledPayload } from './nest/transports/ws-transport.js';
export type { RpcThrottledPayload } from './nest/transports/rpc-transport.js';

// Tastypie: throttles, manual checks, the access log.
export { NoThrottle, type TastypieStyleThrottle, type TastypieThrottleOptions } from './throttles/tastypie/no-throttle.js';
export { CacheThrottle } from './throttles/tastypie/cache-throttle.js';
export { CacheDBThrottle } from './throttles/tastypie/cache-db-throttle.js';
export { TastypieThrottleAdapter, fromTastypieAnswer } from './throttles/tastypie/tastypie-throttle-adapter.js';
export { ACCESS_LOG } from './throttles/tastypie/access-log-token.js';
export type { ThrottleClass } from './throttles/throttle-class.js';
export { type AccessEntry, type AccessLog, AccessLogError, type StoredAccess } from './access-log/access-log.js';
export { PostgresAccessLog, type AccessLogLogger, type AccessLogStats, type AccessRange, type PgQueryable, type PostgresAccessLogOptions } from './access-log/postgres-access-log.js';
export { ThrottlingService, type ManualCheckOptions, type PenalizeOptions, type ThrottleAttempt, type ThrottleKeyState, type ThrottleSpec, type ThrottleTarget, type ThrottleVerdict } from './nest/enforcement/throttling.service.js';
export type { ThrottleBucketState } from './nest/enforcement/throttle-admin.js';
export { ThrottleAccessInterceptor } from './nest/enforcement/throttle-access.interceptor.js';

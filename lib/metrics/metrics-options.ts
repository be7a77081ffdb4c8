import { describeValue } from '../core/describe-value.js';
import { ThrottleConfigError } from '../core/throttle-config-error.js';

/** The part of a prom-client Registry this library uses (typed loosely: prom-client is an optional peer). */
export interface PrometheusRegistryLike {
  registerMetric(metric: any): void;
  getSingleMetric(name: string): any;
  removeSingleMetric(name: string): void;
}

/** The part of an OpenTelemetry MeterProvider this library uses. */
export interface MeterProviderLike {
  getMeter(name: string, version?: string, options?: object): any;
}

/**
 * The module option `metrics`. Each backend present is switched on; with neither (the default)
 * nothing is loaded and nothing counted.
 */
export interface ThrottlingMetricsOptions {
  /** Through prom-client: into `registry`, default prom-client's default `register`. */
  readonly prometheus?: { readonly registry?: PrometheusRegistryLike };
  /** Through @opentelemetry/api: from `meterProvider`, default the global one (`metrics.getMeterProvider()`). */
  readonly openTelemetry?: { readonly meterProvider?: MeterProviderLike };
}

/** Checks the `metrics` option while the app boots; undefined when no backend is configured. */
export function validateMetricsOptions(value: unknown): ThrottlingMetricsOptions | undefined {
  if (value === undefined) return undefined;
  const options = objectWithKeys(value, 'metrics', ['prometheus', 'openTelemetry'], '{ prometheus: {} } or { openTelemetry: {} }');
  const prometheus = options.prometheus === undefined ? undefined : objectWithKeys(options.prometheus, 'metrics.prometheus', ['registry'], '{} or { registry }');
  const openTelemetry =
    options.openTelemetry === undefined ? undefined : objectWithKeys(options.openTelemetry, 'metrics.openTelemetry', ['meterProvider'], '{} or { meterProvider }');
  if (prometheus?.registry !== undefined && !hasMethods(prometheus.registry, ['registerMetric', 'getSingleMetric', 'removeSingleMetric'])) {
    throw new ThrottleConfigError(`metrics.prometheus.registry must be a prom-client Registry, got ${describeValue(prometheus.registry)}`);
  }
  if (openTelemetry?.meterProvider !== undefined && !hasMethods(openTelemetry.meterProvider, ['getMeter'])) {
    throw new ThrottleConfigError(`metrics.openTelemetry.meterProvider must be an OpenTelemetry MeterProvider (with getMeter()), got ${describeValue(openTelemetry.meterProvider)}`);
  }
  if (prometheus === undefined && openTelemetry === undefined) return undefined;
  return options as ThrottlingMetricsOptions;
}

function objectWithKeys(value: unknown, name: string, known: readonly string[], example: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ThrottleConfigError(`${name} must be an object such as ${example}, got ${describeValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new ThrottleConfigError(`${name}: unknown option '${key}'; known options are ${known.join(', ')}`);
  }
  return value as Record<string, unknown>;
}

function hasMethods(value: unknown, methods: readonly string[]): boolean {
  return value !== null && typeof value === 'object' && methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function');
}

import { importConfiguredPeer, interopDefault, type PeerImporter } from './configured-peer.js';
import type { MeterProviderLike, PrometheusRegistryLike, ThrottlingMetricsOptions } from './metrics-options.js';
import { METER_NAME } from './metric-names.js';
import { OpenTelemetryThrottlingMetrics } from './open-telemetry-throttling-metrics.js';
import { type PromClientLike, PrometheusThrottlingMetrics } from './prometheus-throttling-metrics.js';
import { FanOutThrottlingMetrics, type ThrottlingMetrics } from './throttling-metrics.js';

type PromClientPackage = PromClientLike & { readonly register: PrometheusRegistryLike };
type OpenTelemetryApiPackage = { readonly metrics: { getMeterProvider(): MeterProviderLike } };

/**
 * The app's metrics, from the validated `metrics` option (validateMetricsOptions()), awaited while
 * the app boots: null when no backend is configured, and then no package is loaded. prom-client
 * is loaded when `prometheus` is set; @opentelemetry/api only when `openTelemetry` names no
 * meterProvider (the global one is needed). A configured backend whose package is missing fails
 * the boot with a ThrottleConfigError naming the package.
 */
export async function createThrottlingMetrics(
  options: ThrottlingMetricsOptions | undefined,
  importPeer: PeerImporter = importConfiguredPeer,
): Promise<ThrottlingMetrics | null> {
  if (options === undefined) return null;
  const backends: ThrottlingMetrics[] = [];
  if (options.prometheus !== undefined) {
    const client = interopDefault<PromClientPackage>(await importPeer('prom-client', 'metrics.prometheus'), 'Counter');
    backends.push(new PrometheusThrottlingMetrics(client, options.prometheus.registry ?? client.register));
  }
  if (options.openTelemetry !== undefined) {
    let provider = options.openTelemetry.meterProvider;
    if (provider === undefined) {
      const api = interopDefault<OpenTelemetryApiPackage>(await importPeer('@opentelemetry/api', 'metrics.openTelemetry'), 'metrics');
      provider = api.metrics.getMeterProvider();
    }
    backends.push(new OpenTelemetryThrottlingMetrics(provider.getMeter(METER_NAME)));
  }
  if (backends.length === 0) return null;
  return backends.length === 1 ? backends[0] : new FanOutThrottlingMetrics(backends);
}

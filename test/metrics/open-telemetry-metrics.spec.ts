import { describe, expect, test } from '@jest/globals';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { createThrottlingMetrics } from '../../lib/metrics/create-throttling-metrics.js';
import { METER_NAME, OTEL_METRIC_NAMES, STORE_CALL_BUCKETS_SECONDS } from '../../lib/metrics/metric-names.js';
import { OpenTelemetryThrottlingMetrics } from '../../lib/metrics/open-telemetry-throttling-metrics.js';
import type { ThrottlingMetrics } from '../../lib/metrics/throttling-metrics.js';

const N = OTEL_METRIC_NAMES;

/** A reader the test collects from on demand (cumulative, as Prometheus-style backends read). */
class InMemoryReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function otel(): Promise<{ metrics: ThrottlingMetrics; collect: () => Promise<Map<string, MetricData>>; provider: MeterProvider }> {
  const reader = new InMemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = (await createThrottlingMetrics({ openTelemetry: { meterProvider: provider } }))!;
  const collect = async (): Promise<Map<string, MetricData>> => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const scope = resourceMetrics.scopeMetrics.find((scoped) => scoped.scope.name === METER_NAME);
    return new Map((scope?.metrics ?? []).map((metric) => [metric.descriptor.name, metric]));
  };
  return { metrics, collect, provider };
}

function points(metric: MetricData | undefined): { attributes: Record<string, unknown>; value: unknown }[] {
  return (metric?.dataPoints ?? []).map((point) => ({ attributes: { ...point.attributes }, value: point.value }));
}

describe('OpenTelemetry metrics, read with an in-memory metric reader', () => {
  test('decisions are a counter of {decision} with policy, outcome and transport attributes', async () => {
    const { metrics, collect } = await otel();
    metrics.decision('burst', 'allowed', 'http');
    metrics.decision('burst', 'allowed', 'http');
    metrics.decision('sustained', 'shadow_throttled', 'graphql');
    const decisions = (await collect()).get(N.decisions)!;
    expect(decisions.dataPointType).toBe(DataPointType.SUM);
    expect(decisions.descriptor.unit).toBe('{decision}');
    expect((decisions as { isMonotonic?: boolean }).isMonotonic).toBe(true);
    expect(points(decisions)).toEqual([
      { attributes: { 'throttling.policy': 'burst', 'throttling.outcome': 'allowed', 'throttling.transport': 'http' }, value: 2 },
      { attributes: { 'throttling.policy': 'sustained', 'throttling.outcome': 'shadow_throttled', 'throttling.transport': 'graphql' }, value: 1 },
    ]);
  });

  test('store call duration is a histogram in seconds (unit s) with the store buckets, failures tagged by error.type', async () => {
    const { metrics, collect } = await otel();
    metrics.storeCall('redis', 'hit', 0.0003, 'ok');
    metrics.storeCall('redis', 'hit', 0.004, 'ok');
    metrics.storeCall('redis', 'record', 0.1, 'timeout');
    metrics.storeCall('redis', 'record', 0.002, 'error');
    const duration = (await collect()).get(N.storeCallDuration)!;
    expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(duration.descriptor.unit).toBe('s');
    const byAttributes = new Map(duration.dataPoints.map((point) => [JSON.stringify(point.attributes), point.value as { count: number; sum: number; buckets: { boundaries: number[]; counts: number[] } }]));
    const ok = byAttributes.get(JSON.stringify({ 'throttling.store': 'redis', 'throttling.store.operation': 'hit' }))!;
    expect(ok.buckets.boundaries).toEqual(STORE_CALL_BUCKETS_SECONDS);
    expect([ok.count, ok.sum]).toEqual([2, 0.0043]);
    expect(ok.buckets.counts.slice(0, 6)).toEqual([0, 0, 1, 0, 0, 1]);
    expect(byAttributes.get(JSON.stringify({ 'throttling.store': 'redis', 'throttling.store.operation': 'record', 'error.type': 'timeout' }))?.count).toBe(1);
    expect(byAttributes.get(JSON.stringify({ 'throttling.store': 'redis', 'throttling.store.operation': 'record', 'error.type': '_OTHER' }))?.count).toBe(1);
  });

  test('store state is a gauge (last value wins), fallbacks a counter by store and fallback policy', async () => {
    const { metrics, collect } = await otel();
    metrics.storeState('redis', true);
    metrics.storeState('redis', false);
    metrics.storeFallback('redis', 'deny');
    let collected = await collect();
    expect(collected.get(N.storeUp)!.dataPointType).toBe(DataPointType.GAUGE);
    expect(points(collected.get(N.storeUp))).toEqual([{ attributes: { 'throttling.store': 'redis' }, value: 0 }]);
    expect(points(collected.get(N.storeFallbacks))).toEqual([{ attributes: { 'throttling.store': 'redis', 'throttling.store.fallback': 'deny' }, value: 1 }]);
    metrics.storeState('redis', true);
    collected = await collect();
    expect(points(collected.get(N.storeUp))).toEqual([{ attributes: { 'throttling.store': 'redis' }, value: 1 }]);
  });

  test('memory store keys and access log rows are observed at collection, and no longer once closed', async () => {
    const { metrics, collect } = await otel();
    const store = { size: 2 };
    const log = { stats: () => ({ buffered: 4, written: 10, dropped: 1 }) };
    metrics.observeMemoryStore('memory', store);
    metrics.observeAccessLog(log);
    metrics.memoryEviction('memory');
    let collected = await collect();
    expect(collected.get(N.memoryStoreKeyCount)!.descriptor.unit).toBe('{key}');
    expect((collected.get(N.memoryStoreKeyCount) as { isMonotonic?: boolean }).isMonotonic).toBe(false);
    expect(points(collected.get(N.memoryStoreKeyCount))).toEqual([{ attributes: { 'throttling.store': 'memory' }, value: 2 }]);
    expect(points(collected.get(N.memoryStoreEvictions))).toEqual([{ attributes: { 'throttling.store': 'memory' }, value: 1 }]);
    expect(points(collected.get(N.accessLogBufferUsage))).toEqual([{ attributes: {}, value: 4 }]);
    expect(points(collected.get(N.accessLogWrittenRows))).toEqual([{ attributes: {}, value: 10 }]);
    expect((collected.get(N.accessLogWrittenRows) as { isMonotonic?: boolean }).isMonotonic).toBe(true);
    expect(points(collected.get(N.accessLogDroppedRows))).toEqual([{ attributes: {}, value: 1 }]);
    store.size = 5;
    expect(points((await collect()).get(N.memoryStoreKeyCount))).toEqual([{ attributes: { 'throttling.store': 'memory' }, value: 5 }]);
    metrics.close();
    let observedAfterClose = 0;
    const countingLog = { stats: () => (observedAfterClose++, { buffered: 0, written: 0, dropped: 0 }) };
    metrics.observeAccessLog(countingLog);
    await collect();
    expect(observedAfterClose).toBe(0);
  });

  test('policies past the first 100 are reported as "other"', async () => {
    const { metrics, collect } = await otel();
    for (let i = 0; i < 103; i++) metrics.decision(`scope-${i}`, 'throttled', 'http');
    const decisions = points((await collect()).get(N.decisions));
    expect(decisions).toHaveLength(101);
    expect(decisions.find((point) => point.attributes['throttling.policy'] === 'other')?.value).toBe(3);
  });

  test('with no meterProvider the global one is used: a no-op until an SDK registers one', async () => {
    const metrics = await createThrottlingMetrics({ openTelemetry: {} });
    expect(metrics).toBeInstanceOf(OpenTelemetryThrottlingMetrics);
    expect(() => metrics!.decision('burst', 'allowed', 'http')).not.toThrow();
  });
});

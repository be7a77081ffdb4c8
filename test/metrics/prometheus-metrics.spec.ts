import { afterEach, describe, expect, test } from '@jest/globals';
import * as promClient from 'prom-client';
import { Registry } from 'prom-client';
import { PostgresAccessLog } from '../../lib/access-log/postgres-access-log.js';
import { ThrottleConfigError } from '../../lib/core/throttle-config-error.js';
import { createThrottlingMetrics } from '../../lib/metrics/create-throttling-metrics.js';
import { PROMETHEUS_METRIC_NAMES } from '../../lib/metrics/metric-names.js';
import { PrometheusThrottlingMetrics } from '../../lib/metrics/prometheus-throttling-metrics.js';
import type { WindowCheck } from '../../lib/core/store.js';
import { MemoryThrottleStore } from '../../lib/stores/memory-throttle-store.js';
import { parseExposition, valueOf, type Exposition } from './support/exposition.js';

const N = PROMETHEUS_METRIC_NAMES;

async function scrape(registry: Registry): Promise<Exposition> {
  return parseExposition(await registry.metrics());
}

/** A DRF-style check that records its hit, kept for a minute. */
function check(key: string): WindowCheck {
  return { key, limit: 5, windowMs: 60_000, record: true };
}

function metricsOn(registry: Registry): PrometheusThrottlingMetrics {
  return new PrometheusThrottlingMetrics(promClient, registry);
}

describe('Prometheus metrics, scraped from the registry text', () => {
  test('every metric has HELP, the type its name promises, and counters end in _total', async () => {
    const registry = new Registry();
    metricsOn(registry);
    const scraped = await scrape(registry);
    const expectedTypes: Record<string, string> = {
      [N.decisions]: 'counter',
      [N.storeCallDuration]: 'histogram',
      [N.storeUp]: 'gauge',
      [N.storeFallbacks]: 'counter',
      [N.memoryStoreKeys]: 'gauge',
      [N.memoryStoreEvictions]: 'counter',
      [N.accessLogBufferedRows]: 'gauge',
      [N.accessLogWrittenRows]: 'counter',
      [N.accessLogDroppedRows]: 'counter',
    };
    for (const [name, type] of Object.entries(expectedTypes)) {
      expect([name, scraped.type.get(name)]).toEqual([name, type]);
      expect(scraped.help.get(name)?.length).toBeGreaterThan(20);
      expect(name.endsWith('_total')).toBe(type === 'counter');
    }
  });

  test('decisions are counted by policy, outcome and transport', async () => {
    const registry = new Registry();
    const metrics = metricsOn(registry);
    metrics.decision('burst', 'allowed', 'http');
    metrics.decision('burst', 'allowed', 'http');
    metrics.decision('burst', 'throttled', 'http');
    metrics.decision('sustained', 'shadow_throttled', 'ws');
    metrics.decision(undefined, 'allowed', 'rpc');
    const scraped = await scrape(registry);
    expect(valueOf(scraped, N.decisions, { policy: 'burst', outcome: 'allowed', transport: 'http' })).toBe(2);
    expect(valueOf(scraped, N.decisions, { policy: 'burst', outcome: 'throttled', transport: 'http' })).toBe(1);
    expect(valueOf(scraped, N.decisions, { policy: 'sustained', outcome: 'shadow_throttled', transport: 'ws' })).toBe(1);
    expect(valueOf(scraped, N.decisions, { policy: 'unnamed', outcome: 'allowed', transport: 'rpc' })).toBe(1);
    expect(scraped.samples.filter((sample) => sample.name === N.decisions)).toHaveLength(4);
  });

  test('store call durations land in second-based buckets from 100 µs to 1 s, by store, operation and result', async () => {
    const registry = new Registry();
    const metrics = metricsOn(registry);
    metrics.storeCall('redis', 'hit', 0.0003, 'ok');
    metrics.storeCall('redis', 'hit', 0.004, 'ok');
    metrics.storeCall('redis', 'hit', 0.1, 'timeout');
    const scraped = await scrape(registry);
    const bucket = (le: string, result = 'ok'): number | undefined =>
      valueOf(scraped, `${N.storeCallDuration}_bucket`, { store: 'redis', operation: 'hit', result, le });
    expect(scraped.samples.filter((s) => s.name === `${N.storeCallDuration}_bucket` && s.labels.result === 'ok').map((s) => s.labels.le)).toEqual([
      '0.0001', '0.00025', '0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '1', '+Inf',
    ]);
    expect([bucket('0.00025'), bucket('0.0005'), bucket('0.0025'), bucket('0.005'), bucket('+Inf')]).toEqual([0, 1, 1, 2, 2]);
    expect(valueOf(scraped, `${N.storeCallDuration}_count`, { store: 'redis', operation: 'hit', result: 'ok' })).toBe(2);
    expect(valueOf(scraped, `${N.storeCallDuration}_sum`, { store: 'redis', operation: 'hit', result: 'ok' })).toBeCloseTo(0.0043, 10);
    expect([bucket('0.05', 'timeout'), bucket('0.1', 'timeout')]).toEqual([0, 1]);
  });

  test('store outages show as store_up 0 and back to 1, with the calls the fallback answered', async () => {
    const registry = new Registry();
    const metrics = metricsOn(registry);
    metrics.storeState('redis', true);
    expect(valueOf(await scrape(registry), N.storeUp, { store: 'redis' })).toBe(1);
    metrics.storeState('redis', false);
    metrics.storeFallback('redis', 'local');
    metrics.storeFallback('redis', 'local');
    let scraped = await scrape(registry);
    expect(valueOf(scraped, N.storeUp, { store: 'redis' })).toBe(0);
    expect(valueOf(scraped, N.storeFallbacks, { store: 'redis', fallback: 'local' })).toBe(2);
    metrics.storeState('redis', true);
    scraped = await scrape(registry);
    expect(valueOf(scraped, N.storeUp, { store: 'redis' })).toBe(1);
  });

  test("a memory store's keys are read at each scrape, its evictions counted, until its observation stops", async () => {
    const registry = new Registry();
    const metrics = metricsOn(registry);
    const store = new MemoryThrottleStore({ clock: () => 1_000, maxKeys: 3 });
    const stop = metrics.observeMemoryStore('memory', store);
    store.hit([check('a')]);
    store.hit([check('b')]);
    expect(valueOf(await scrape(registry), N.memoryStoreKeys, { store: 'memory' })).toBe(2);
    store.hit([check('c'), check('d')]);
    metrics.memoryEviction('memory');
    let scraped = await scrape(registry);
    expect(valueOf(scraped, N.memoryStoreKeys, { store: 'memory' })).toBe(3);
    expect(valueOf(scraped, N.memoryStoreEvictions, { store: 'memory' })).toBe(1);
    stop();
    scraped = await scrape(registry);
    expect(valueOf(scraped, N.memoryStoreKeys, { store: 'memory' })).toBeUndefined();
  });

  test("the access log's buffered, written and dropped rows are read from stats() at each scrape", async () => {
    const registry = new Registry();
    const metrics = metricsOn(registry);
    const pool = { query: async () => ({ rows: [] }) };
    const log = new PostgresAccessLog({ pool, maxBuffer: 3, batchSize: 100, flushInterval: 3_600_000 });
    try {
      metrics.observeAccessLog(log);
      const row = { identifier: 'client', url: '/x', method: 'GET', accessedAt: 0 };
      for (let i = 0; i < 4; i++) await log.write(row);
      let scraped = await scrape(registry);
      expect([valueOf(scraped, N.accessLogBufferedRows), valueOf(scraped, N.accessLogWrittenRows), valueOf(scraped, N.accessLogDroppedRows)]).toEqual([3, 0, 1]);
      await log.flush();
      scraped = await scrape(registry);
      expect([valueOf(scraped, N.accessLogBufferedRows), valueOf(scraped, N.accessLogWrittenRows), valueOf(scraped, N.accessLogDroppedRows)]).toEqual([0, 3, 1]);
    } finally {
      await log.close();
    }
  });

  test('policies past the first 100 are reported as "other", so a runaway scope cannot grow the series without end', async () => {
    const registry = new Registry();
    const metrics = metricsOn(registry);
    for (let i = 0; i < 105; i++) metrics.decision(`scope-${i}`, 'allowed', 'http');
    metrics.decision('scope-0', 'allowed', 'http');
    metrics.decision('scope-104', 'allowed', 'http');
    const scraped = await scrape(registry);
    const policies = scraped.samples.filter((sample) => sample.name === N.decisions).map((sample) => sample.labels.policy);
    expect(policies).toHaveLength(101);
    expect(valueOf(scraped, N.decisions, { policy: 'scope-0' })).toBe(2);
    expect(valueOf(scraped, N.decisions, { policy: 'scope-99' })).toBe(1);
    expect(valueOf(scraped, N.decisions, { policy: 'scope-100' })).toBeUndefined();
    expect(valueOf(scraped, N.decisions, { policy: 'other' })).toBe(6);
  });

  test('transports and stores past 20 kinds are reported as "other" too', async () => {
    const registry = new Registry();
    const metrics = metricsOn(registry);
    for (let i = 0; i < 22; i++) {
      metrics.decision('p', 'allowed', `transport-${i}`);
      metrics.storeFallback(`store-${i}`, 'allow');
    }
    const scraped = await scrape(registry);
    expect(valueOf(scraped, N.decisions, { transport: 'other' })).toBe(2);
    expect(valueOf(scraped, N.storeFallbacks, { store: 'other' })).toBe(2);
  });

  test('two apps on one registry share its metrics instead of failing to register them twice', async () => {
    const registry = new Registry();
    const first = metricsOn(registry);
    const second = metricsOn(registry);
    first.decision('burst', 'allowed', 'http');
    second.decision('burst', 'allowed', 'http');
    const firstStore = new MemoryThrottleStore({ clock: () => 0 });
    const secondStore = new MemoryThrottleStore({ clock: () => 0 });
    first.observeMemoryStore('memory', firstStore);
    second.observeMemoryStore('memory', secondStore);
    firstStore.hit([check('a')]);
    secondStore.hit([check('a'), check('b')]);
    let scraped = await scrape(registry);
    expect(valueOf(scraped, N.decisions, { policy: 'burst' })).toBe(2);
    expect(valueOf(scraped, N.memoryStoreKeys, { store: 'memory' })).toBe(3);
    second.close();
    scraped = await scrape(registry);
    expect(valueOf(scraped, N.memoryStoreKeys, { store: 'memory' })).toBe(1);
  });

  test('after registry.clear() (between tests) a new app registers its metrics afresh', async () => {
    const registry = new Registry();
    metricsOn(registry).decision('burst', 'allowed', 'http');
    registry.clear();
    metricsOn(registry).decision('burst', 'throttled', 'http');
    const scraped = await scrape(registry);
    expect(valueOf(scraped, N.decisions, { policy: 'burst', outcome: 'throttled' })).toBe(1);
    expect(valueOf(scraped, N.decisions, { policy: 'burst', outcome: 'allowed' })).toBeUndefined();
  });

  test("an app metric that already holds one of the names is a configuration error naming it", () => {
    const registry = new Registry();
    new promClient.Gauge({ name: N.storeUp, help: 'the app’s own', registers: [registry] });
    expect(() => metricsOn(registry)).toThrow(ThrottleConfigError);
    expect(() => metricsOn(registry)).toThrow(`metrics.prometheus: the registry already has a metric named ${N.storeUp}, not created by nestjs-throttling`);
    expect(registry.getSingleMetric(N.decisions)).toBeUndefined();
  });

  test("getMetricsAsJSON() agrees with the text", async () => {
    const registry = new Registry();
    metricsOn(registry).decision('burst', 'throttled', 'graphql');
    const json = await registry.getMetricsAsJSON();
    const decisions = json.find((metric) => metric.name === N.decisions)!;
    expect(decisions.type).toBe('counter');
    expect(decisions.values).toEqual([{ value: 1, labels: { policy: 'burst', outcome: 'throttled', transport: 'graphql' } }]);
  });
});

describe("metrics: { prometheus: {} } reports into prom-client's default register", () => {
  afterEach(() => {
    for (const name of Object.values(N)) promClient.register.removeSingleMetric(name);
  });

  test('createThrottlingMetrics() loads prom-client and registers in its default register', async () => {
    const metrics = await createThrottlingMetrics({ prometheus: {} });
    metrics!.decision('burst', 'allowed', 'http');
    const scraped = parseExposition(await promClient.register.metrics());
    expect(valueOf(scraped, N.decisions, { policy: 'burst', outcome: 'allowed', transport: 'http' })).toBe(1);
  });

  test('with a registry, only that registry gets the metrics', async () => {
    const registry = new Registry();
    const metrics = await createThrottlingMetrics({ prometheus: { registry } });
    metrics!.decision('burst', 'allowed', 'http');
    expect(valueOf(await scrape(registry), N.decisions, { policy: 'burst' })).toBe(1);
    expect(promClient.register.getSingleMetric(N.decisions)).toBeUndefined();
  });
});

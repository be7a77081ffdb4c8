import { Controller, Get, type INestApplication, Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { AggregationTemporality, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import request from 'supertest';
import {
  type AccessLog,
  type HitResult,
  METER_NAME,
  OTEL_METRIC_NAMES,
  PROMETHEUS_METRIC_NAMES as N,
  THROTTLING_SETTINGS,
  ThrottleClasses,
  type ThrottleStore,
  type ThrottlingModuleOptions,
  UserThrottle,
} from '../../lib/index.js';
import type { ThrottlingSettings } from '../../lib/nest/module/throttling-settings.js';
import { FakeClock } from '../support/fake-clock.js';
import { PLATFORMS, type Platform, startApp } from '../support/http-app.js';
import { testModule } from '../support/test-app.js';
import { type Exposition, parseExposition, valueOf } from './support/exposition.js';

@Controller()
class MeteredController {
  @Get('limited') @ThrottleClasses(UserThrottle.with({ scope: 'metered', rate: '2/min' })) limited() { return 'ok'; }
  @Get('shadow') @ThrottleClasses(UserThrottle.with({ scope: 'metered-shadow', rate: '1/min', mode: 'shadow' })) shadow() { return 'ok'; }
}

/** A networked store stand-in that fails every call. */
class FailingStore implements ThrottleStore {
  async hit(): Promise<HitResult[]> {
    throw new Error('connection refused');
  }
  async record(): Promise<void> {}
  async peek() { return { count: 0, oldest: null, now: 0 }; }
  async reset(): Promise<void> {}
}

/** An AccessLog of the app's own that keeps counters the way PostgresAccessLog does. */
class CountingAccessLog implements AccessLog {
  write(): void {}
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  stats() { return { buffered: 3, written: 40, dropped: 2, rejected: 0 } as never; }
}

class InMemoryReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

describe.each(PLATFORMS)('metrics through real HTTP on %s', (platform: Platform) => {
  let app: INestApplication | undefined;
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await app?.close();
    app = undefined;
  });

  async function boot(options: ThrottlingModuleOptions) {
    app = await startApp(platform, testModule({ options: { clock: new FakeClock().read, ...options }, controllers: [MeteredController] }));
    return app.getHttpServer();
  }
  async function scrape(registry: Registry): Promise<Exposition> {
    return parseExposition(await registry.metrics());
  }

  test('a scrape counts decisions by policy, outcome and transport, shadow denials apart, and the memory store keys and evictions', async () => {
    const registry = new Registry();
    const server = await boot({ metrics: { prometheus: { registry } }, maxKeys: 2 });
    for (let i = 0; i < 3; i++) await request(server).get('/limited').set('x-user-id', 'u1');
    for (let i = 0; i < 3; i++) await request(server).get('/shadow').set('x-user-id', 'u1');
    // Three users on a store of two keys: one key forgotten.
    await request(server).get('/limited').set('x-user-id', 'u2');
    const scraped = await scrape(registry);
    expect(valueOf(scraped, N.decisions, { policy: 'metered', outcome: 'allowed', transport: 'http' })).toBe(3);
    expect(valueOf(scraped, N.decisions, { policy: 'metered', outcome: 'throttled', transport: 'http' })).toBe(1);
    expect(valueOf(scraped, N.decisions, { policy: 'metered-shadow', outcome: 'allowed', transport: 'http' })).toBe(1);
    expect(valueOf(scraped, N.decisions, { policy: 'metered-shadow', outcome: 'shadow_throttled', transport: 'http' })).toBe(2);
    expect(valueOf(scraped, N.decisions, { policy: 'metered-shadow', outcome: 'throttled' })).toBeUndefined();
    expect(valueOf(scraped, N.memoryStoreKeys, { store: 'memory' })).toBe(2);
    expect(valueOf(scraped, N.memoryStoreEvictions, { store: 'memory' })).toBe(1);
    // No client address or user id in any label.
    expect(await registry.metrics()).not.toMatch(/u1|u2|127\.0\.0\.1/);
  });

  test("a failing store shows as down, its calls as errors with their latency, and the requests the 'local' policy answered", async () => {
    const registry = new Registry();
    const server = await boot({ metrics: { prometheus: { registry } }, store: new FailingStore() });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await request(server).get('/limited').set('x-user-id', 'u1')).status);
    // Counted locally while the store is down: the limit still holds.
    expect(statuses).toEqual([200, 200, 429]);
    const scraped = await scrape(registry);
    expect(valueOf(scraped, N.storeUp, { store: 'custom' })).toBe(0);
    expect(valueOf(scraped, N.storeFallbacks, { store: 'custom', fallback: 'local' })).toBe(3);
    // The first call failed at the store; the others got the policy at once, within the retry interval.
    expect(valueOf(scraped, `${N.storeCallDuration}_count`, { store: 'custom', operation: 'hit', result: 'error' })).toBe(1);
    expect(valueOf(scraped, N.memoryStoreKeys, { store: 'local_fallback' })).toBe(1);
  });

  test("an access log with stats() reports its buffered, written and dropped rows", async () => {
    const registry = new Registry();
    await boot({ metrics: { prometheus: { registry } }, accessLog: new CountingAccessLog() });
    const scraped = await scrape(registry);
    expect(valueOf(scraped, N.accessLogBufferedRows)).toBe(3);
    expect(valueOf(scraped, N.accessLogWrittenRows)).toBe(40);
    expect(valueOf(scraped, N.accessLogDroppedRows)).toBe(2);
  });

  test('OpenTelemetry: decisions reach a real MeterProvider and its reader', async () => {
    const reader = new InMemoryReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const server = await boot({ metrics: { openTelemetry: { meterProvider } } });
    for (let i = 0; i < 3; i++) await request(server).get('/shadow').set('x-user-id', 'u1');
    const { resourceMetrics } = await reader.collect();
    const metrics = new Map<string, MetricData>(resourceMetrics.scopeMetrics.find((scoped) => scoped.scope.name === METER_NAME)!.metrics.map((metric) => [metric.descriptor.name, metric]));
    const points = metrics.get(OTEL_METRIC_NAMES.decisions)!.dataPoints.map((point) => ({ ...point.attributes, value: point.value }));
    expect(points).toEqual(
      expect.arrayContaining([
        { 'throttling.policy': 'metered-shadow', 'throttling.outcome': 'allowed', 'throttling.transport': 'http', value: 1 },
        { 'throttling.policy': 'metered-shadow', 'throttling.outcome': 'shadow_throttled', 'throttling.transport': 'http', value: 2 },
      ]),
    );
    expect(metrics.get(OTEL_METRIC_NAMES.memoryStoreKeyCount)!.dataPoints.map((point) => point.value)).toEqual([1]);
    await meterProvider.shutdown();
  });

  test('without the metrics option nothing is set up: the settings hold no metrics', async () => {
    await boot({});
    expect(app!.get<ThrottlingSettings>(THROTTLING_SETTINGS).metrics).toBeNull();
  });
});

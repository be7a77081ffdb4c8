import { describe, expect, test } from '@jest/globals';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import * as promClient from 'prom-client';
import { Registry } from 'prom-client';
import { ThrottleConfigError } from '../../lib/core/throttle-config-error.js';
import { importConfiguredPeer } from '../../lib/metrics/configured-peer.js';
import { createThrottlingMetrics } from '../../lib/metrics/create-throttling-metrics.js';
import { validateMetricsOptions } from '../../lib/metrics/metrics-options.js';
import { FanOutThrottlingMetrics } from '../../lib/metrics/throttling-metrics.js';
import { parseExposition, valueOf } from './support/exposition.js';

/** An importer that records what was asked for and serves the real packages. */
function recordingImporter(): { names: string[]; importPeer: <T>(name: string, option: string) => Promise<T> } {
  const names: string[] = [];
  return {
    names,
    importPeer: <T>(name: string, option: string) => {
      names.push(name);
      return importConfiguredPeer<T>(name, option);
    },
  };
}

describe('metrics off: nothing loaded, nothing counted', () => {
  test('without the metrics option there are no metrics (null, checked once per request) and no package is imported', async () => {
    const { names, importPeer } = recordingImporter();
    await expect(createThrottlingMetrics(validateMetricsOptions(undefined), importPeer)).resolves.toBeNull();
    expect(names).toEqual([]);
  });

  test('metrics: {} configures no backend, so it is off too', async () => {
    const { names, importPeer } = recordingImporter();
    expect(validateMetricsOptions({})).toBeUndefined();
    await expect(createThrottlingMetrics(validateMetricsOptions({}), importPeer)).resolves.toBeNull();
    expect(names).toEqual([]);
  });
});

describe('loading the configured backends', () => {
  test('prometheus loads prom-client only; an openTelemetry with its own meterProvider needs no @opentelemetry/api import', async () => {
    const { names, importPeer } = recordingImporter();
    const metrics = await createThrottlingMetrics({ prometheus: { registry: new Registry() }, openTelemetry: { meterProvider: new MeterProvider() } }, importPeer);
    expect(metrics).toBeInstanceOf(FanOutThrottlingMetrics);
    expect(names).toEqual(['prom-client']);
  });

  test('openTelemetry without a meterProvider loads @opentelemetry/api for the global one', async () => {
    const { names, importPeer } = recordingImporter();
    await createThrottlingMetrics({ openTelemetry: {} }, importPeer);
    expect(names).toEqual(['@opentelemetry/api']);
  });

  test('both backends configured: each gets every measurement', async () => {
    const registry = new Registry();
    const metrics = (await createThrottlingMetrics({ prometheus: { registry }, openTelemetry: { meterProvider: new MeterProvider() } }))!;
    metrics.decision('burst', 'throttled', 'http');
    const stop = metrics.observeMemoryStore('memory', { size: 7 });
    let scraped = parseExposition(await registry.metrics());
    expect(valueOf(scraped, 'nestjs_throttling_decisions_total', { policy: 'burst', outcome: 'throttled' })).toBe(1);
    expect(valueOf(scraped, 'nestjs_throttling_memory_store_keys', { store: 'memory' })).toBe(7);
    stop();
    scraped = parseExposition(await registry.metrics());
    expect(valueOf(scraped, 'nestjs_throttling_memory_store_keys', { store: 'memory' })).toBeUndefined();
    metrics.close();
  });

  test('a configured backend whose package is not installed fails the boot naming the package and the option', async () => {
    await expect(importConfiguredPeer('nestjs-throttling-test-no-such-package', 'metrics.prometheus')).rejects.toThrow(
      'nestjs-throttling: metrics.prometheus is configured but nestjs-throttling-test-no-such-package is not installed; install it (npm install nestjs-throttling-test-no-such-package) or remove metrics.prometheus',
    );
    // What Node says when prom-client itself is absent.
    const absent = Object.assign(new Error("Cannot find package 'prom-client' imported from /app/dist/metrics.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const importPeer = <T>(name: string, option: string): Promise<T> => importConfiguredPeer<T>(name, option, () => Promise.reject(absent));
    const failure = createThrottlingMetrics({ prometheus: {} }, importPeer);
    await expect(failure).rejects.toThrow(ThrottleConfigError);
    await expect(failure).rejects.toThrow('metrics.prometheus is configured but prom-client is not installed');
  });

  test('an installed package that fails to load fails with its own error, not as "not installed"', async () => {
    const broken = Object.assign(new Error("Cannot find module 'tdigest' imported from prom-client"), { code: 'ERR_MODULE_NOT_FOUND' });
    await expect(importConfiguredPeer('prom-client', 'metrics.prometheus', () => Promise.reject(broken))).rejects.toBe(broken);
  });

  test('prom-client through the importer is the same module the app imports, so its default register is the one it scrapes', async () => {
    const loaded = await importConfiguredPeer<typeof promClient & { default?: typeof promClient }>('prom-client', 'metrics.prometheus');
    expect((loaded.register ?? loaded.default?.register) === promClient.register).toBe(true);
  });
});

describe('validating the metrics option', () => {
  test.each([
    [null, "metrics must be an object such as { prometheus: {} } or { openTelemetry: {} }, got null"],
    [true, 'metrics must be an object such as { prometheus: {} } or { openTelemetry: {} }, got true'],
    [{ prometheus: true }, 'metrics.prometheus must be an object such as {} or { registry }, got true'],
    [{ prom: {} }, "metrics: unknown option 'prom'; known options are prometheus, openTelemetry"],
    [{ prometheus: { register: {} } }, "metrics.prometheus: unknown option 'register'; known options are registry"],
    [{ prometheus: { registry: {} } }, 'metrics.prometheus.registry must be a prom-client Registry, got {}'],
    [{ openTelemetry: { meterProvider: 'otel' } }, "metrics.openTelemetry.meterProvider must be an OpenTelemetry MeterProvider (with getMeter()), got 'otel'"],
    [{ openTelemetry: { provider: {} } }, "metrics.openTelemetry: unknown option 'provider'; known options are meterProvider"],
  ])('%j is refused: %s', (value, message) => {
    expect(() => validateMetricsOptions(value)).toThrow(ThrottleConfigError);
    expect(() => validateMetricsOptions(value)).toThrow(message);
  });

  test('a Registry and a MeterProvider are accepted as they are', () => {
    const registry = new Registry();
    const meterProvider = new MeterProvider();
    expect(validateMetricsOptions({ prometheus: { registry }, openTelemetry: { meterProvider } })).toEqual({ prometheus: { registry }, openTelemetry: { meterProvider } });
  });
});

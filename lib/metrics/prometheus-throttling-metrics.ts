import type { Counter, Gauge, Histogram } from 'prom-client';
import { ThrottleConfigError } from '../core/throttle-config-error.js';
import type { StoreErrorPolicy } from '../stores/fail-safe-throttle-store.js';
import { BoundedLabel, LabelledChildren, MAX_POLICY_LABELS, MAX_STORE_LABELS, MAX_TRANSPORT_LABELS } from './bounded-label.js';
import { PROMETHEUS_METRIC_NAMES, STORE_CALL_BUCKETS_SECONDS } from './metric-names.js';
import type { PrometheusRegistryLike } from './metrics-options.js';
import type { AccessLogSource, DecisionOutcome, MemoryStoreSource, StoreCallResult, StoreOperation, ThrottlingMetrics } from './throttling-metrics.js';

/** The prom-client exports used here (prom-client itself is an optional peer, loaded when configured). */
export interface PromClientLike {
  readonly Counter: typeof Counter;
  readonly Gauge: typeof Gauge;
  readonly Histogram: typeof Histogram;
}

/** Where a registry keeps the instruments of this library: Symbol.for, so the ESM and the CommonJS copy of the library share them. */
const INSTRUMENTS = Symbol.for('nestjs-throttling.prometheus-instruments');

interface Observed<T> {
  readonly store: string;
  readonly source: T;
}

/**
 * This library's metrics in one registry, shared by every app that reports into it (two apps in
 * one test process, or an ESM and a CommonJS copy of the library): prom-client refuses a second
 * metric of the same name, and one scrape must show one series per label set anyway. Label
 * bounds are per registry too, since that is where series accumulate.
 */
class PrometheusInstruments {
  readonly policies = new BoundedLabel(MAX_POLICY_LABELS);
  readonly transports = new BoundedLabel(MAX_TRANSPORT_LABELS);
  readonly stores = new BoundedLabel(MAX_STORE_LABELS);
  readonly memoryStores = new Set<Observed<MemoryStoreSource>>();
  readonly accessLogs = new Set<{ readonly source: AccessLogSource }>();

  readonly decisions: Counter<'policy' | 'outcome' | 'transport'>;
  readonly storeCallDuration: Histogram<'store' | 'operation' | 'result'>;
  readonly storeUp: Gauge<'store'>;
  readonly storeFallbacks: Counter<'store' | 'fallback'>;
  readonly memoryStoreKeys: Gauge<'store'>;
  readonly memoryStoreEvictions: Counter<'store'>;
  readonly accessLogBufferedRows: Gauge;
  readonly accessLogWrittenRows: Counter;
  readonly accessLogDroppedRows: Counter;

  readonly decisionChildren: LabelledChildren<{ inc(): void }>;
  readonly storeCallChildren: LabelledChildren<{ observe(seconds: number): void }>;

  constructor(
    client: PromClientLike,
    readonly registry: PrometheusRegistryLike,
  ) {
    const registers = [registry as never];
    const names = PROMETHEUS_METRIC_NAMES;
    const instruments = this;
    this.decisions = new client.Counter({
      name: names.decisions,
      help: 'Throttle verdicts, one per throttle per request, by policy (scope), outcome (allowed, throttled, shadow_throttled) and transport.',
      labelNames: ['policy', 'outcome', 'transport'],
      registers,
    });
    this.storeCallDuration = new client.Histogram({
      name: names.storeCallDuration,
      help: 'Duration of throttle store calls in seconds, by store kind, operation (hit, record, peek, reset) and result (ok, error, timeout).',
      labelNames: ['store', 'operation', 'result'],
      buckets: [...STORE_CALL_BUCKETS_SECONDS],
      registers,
    });
    this.storeUp = new client.Gauge({
      name: names.storeUp,
      help: 'Whether the throttle store answers (1) or is in an outage, its calls answered by the store-error policy (0).',
      labelNames: ['store'],
      registers,
    });
    this.storeFallbacks = new client.Counter({
      name: names.storeFallbacks,
      help: 'Store calls answered by the store-error policy (allow, deny, local) because the store was down.',
      labelNames: ['store', 'fallback'],
      registers,
    });
    this.memoryStoreKeys = new client.Gauge({
      name: names.memoryStoreKeys,
      help: 'Keys (client buckets) held by in-memory throttle stores.',
      labelNames: ['store'],
      registers,
      collect() {
        this.reset();
        for (const { store, source } of instruments.memoryStores) this.inc({ store }, source.size);
      },
    });
    this.memoryStoreEvictions = new client.Counter({
      name: names.memoryStoreEvictions,
      help: 'Keys forgotten by in-memory throttle stores, least recently used first, to stay within maxKeys.',
      labelNames: ['store'],
      registers,
    });
    this.accessLogBufferedRows = new client.Gauge({
      name: names.accessLogBufferedRows,
      help: 'Access log rows accepted and not yet written to PostgreSQL.',
      registers,
      collect() {
        this.set(instruments.sumAccessLogs('buffered'));
      },
    });
    this.accessLogWrittenRows = new client.Counter({
      name: names.accessLogWrittenRows,
      help: 'Access log rows written to PostgreSQL.',
      registers,
      collect() {
        this.reset();
        this.inc(instruments.sumAccessLogs('written'));
      },
    });
    this.accessLogDroppedRows = new client.Counter({
      name: names.accessLogDroppedRows,
      help: 'Access log rows lost: the buffer was full while the database was down, or they were still unwritten at shutdown.',
      registers,
      collect() {
        this.reset();
        this.inc(instruments.sumAccessLogs('dropped'));
      },
    });
    this.decisionChildren = new LabelledChildren((policy, outcome, transport) => this.decisions.labels({ policy, outcome, transport }));
    this.storeCallChildren = new LabelledChildren((store, operation, result) => this.storeCallDuration.labels({ store, operation, result }));
  }

  sumAccessLogs(field: 'buffered' | 'written' | 'dropped'): number {
    let sum = 0;
    for (const { source } of this.accessLogs) sum += source.stats()[field];
    return sum;
  }

  private get all(): readonly { name: string }[] {
    return [
      this.decisions,
      this.storeCallDuration,
      this.storeUp,
      this.storeFallbacks,
      this.memoryStoreKeys,
      this.memoryStoreEvictions,
      this.accessLogBufferedRows,
      this.accessLogWrittenRows,
      this.accessLogDroppedRows,
    ] as unknown as { name: string }[];
  }

  /** Whether every instrument is still in the registry (`registry.clear()` between tests removes them). */
  isRegistered(): boolean {
    return this.all.every((metric) => this.registry.getSingleMetric(metric.name) === metric);
  }

  /** Takes out whichever of these instruments are still registered, before a fresh set replaces them. */
  unregister(): void {
    for (const metric of this.all) if (this.registry.getSingleMetric(metric.name) === metric) this.registry.removeSingleMetric(metric.name);
  }
}

/** The registry's instruments: the ones already there (another app, another copy of the library), or new. */
function instrumentsOf(client: PromClientLike, registry: PrometheusRegistryLike): PrometheusInstruments {
  const holder = registry as unknown as { [INSTRUMENTS]?: PrometheusInstruments };
  const existing = holder[INSTRUMENTS];
  if (existing?.isRegistered()) return existing;
  existing?.unregister();
  // Checked before creating any, so that a refusal leaves the registry as it was.
  const taken = Object.values(PROMETHEUS_METRIC_NAMES).find((name) => registry.getSingleMetric(name) !== undefined);
  if (taken !== undefined) {
    throw new ThrottleConfigError(`metrics.prometheus: the registry already has a metric named ${taken}, not created by nestjs-throttling; its metrics are named nestjs_throttling_*`);
  }
  const created = new PrometheusInstruments(client, registry);
  Object.defineProperty(holder, INSTRUMENTS, { value: created, configurable: true, writable: true, enumerable: false });
  return created;
}

/** ThrottlingMetrics through prom-client, into the app's registry (or prom-client's default one). */
export class PrometheusThrottlingMetrics implements ThrottlingMetrics {
  private readonly instruments: PrometheusInstruments;
  private readonly stops = new Set<() => void>();

  constructor(client: PromClientLike, registry: PrometheusRegistryLike) {
    this.instruments = instrumentsOf(client, registry);
  }

  decision(policy: string | undefined, outcome: DecisionOutcome, transport: string): void {
    const { instruments } = this;
    instruments.decisionChildren.get(instruments.policies.of(policy), outcome, instruments.transports.of(transport)).inc();
  }

  storeCall(store: string, operation: StoreOperation, seconds: number, result: StoreCallResult): void {
    const { instruments } = this;
    instruments.storeCallChildren.get(instruments.stores.of(store), operation, result).observe(seconds);
  }

  storeState(store: string, up: boolean): void {
    this.instruments.storeUp.set({ store: this.instruments.stores.of(store) }, up ? 1 : 0);
  }

  storeFallback(store: string, fallback: StoreErrorPolicy): void {
    this.instruments.storeFallbacks.inc({ store: this.instruments.stores.of(store), fallback });
  }

  memoryEviction(store: string): void {
    this.instruments.memoryStoreEvictions.inc({ store: this.instruments.stores.of(store) });
  }

  observeMemoryStore(store: string, source: MemoryStoreSource): () => void {
    const observed = { store: this.instruments.stores.of(store), source };
    this.instruments.memoryStores.add(observed);
    return this.stopping(() => this.instruments.memoryStores.delete(observed));
  }

  observeAccessLog(source: AccessLogSource): () => void {
    // Its own entry, so that two apps observing one log each stop only their own observation.
    const observed = { source };
    this.instruments.accessLogs.add(observed);
    return this.stopping(() => this.instruments.accessLogs.delete(observed));
  }

  close(): void {
    for (const stop of [...this.stops]) stop();
  }

  private stopping(remove: () => void): () => void {
    const stop = (): void => {
      remove();
      this.stops.delete(stop);
    };
    this.stops.add(stop);
    return stop;
  }
}

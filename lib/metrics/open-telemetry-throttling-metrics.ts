import type { Attributes, BatchObservableResult, Counter, Gauge, Histogram, Meter, Observable, ObservableCounter, ObservableUpDownCounter } from '@opentelemetry/api';
import type { StoreErrorPolicy } from '../core/store-error-policy.js';
import { BoundedLabel, LabelledChildren, MAX_POLICY_LABELS, MAX_STORE_LABELS, MAX_TRANSPORT_LABELS } from './bounded-label.js';
import { METER_NAME, OTEL_ATTRIBUTES, OTEL_METRIC_NAMES, STORE_CALL_BUCKETS_SECONDS } from './metric-names.js';
import type { AccessLogSource, DecisionOutcome, MemoryStoreSource, StoreCallResult, StoreOperation, ThrottlingMetrics } from './throttling-metrics.js';

const A = OTEL_ATTRIBUTES;

/**
 * ThrottlingMetrics through the OpenTelemetry metrics API, from the app's meter provider (or the
 * global one, a no-op until an SDK is registered). Label bounds are per instance: the SDK keeps
 * one set of series per meter provider and views may aggregate further.
 */
export class OpenTelemetryThrottlingMetrics implements ThrottlingMetrics {
  private readonly policies = new BoundedLabel(MAX_POLICY_LABELS);
  private readonly transports = new BoundedLabel(MAX_TRANSPORT_LABELS);
  private readonly stores = new BoundedLabel(MAX_STORE_LABELS);

  private readonly decisions: Counter;
  private readonly storeCallDuration: Histogram;
  private readonly storeUp: Gauge;
  private readonly storeFallbacks: Counter;
  private readonly memoryStoreEvictions: Counter;
  private readonly memoryStoreKeyCount: ObservableUpDownCounter;
  private readonly accessLogBufferUsage: ObservableUpDownCounter;
  private readonly accessLogWrittenRows: ObservableCounter;
  private readonly accessLogDroppedRows: ObservableCounter;
  private readonly observables: Observable[];

  /** Frozen attribute sets, one per label combination: recording allocates nothing. */
  private readonly decisionAttributes = new LabelledChildren<Attributes>((policy, outcome, transport) =>
    Object.freeze({ [A.policy]: policy, [A.outcome]: outcome, [A.transport]: transport }),
  );
  private readonly storeCallAttributes = new LabelledChildren<Attributes>((store, operation, result) =>
    Object.freeze(
      result === 'ok'
        ? { [A.store]: store, [A.operation]: operation }
        : { [A.store]: store, [A.operation]: operation, [A.errorType]: result === 'timeout' ? 'timeout' : '_OTHER' },
    ),
  );
  private readonly fallbackAttributes = new LabelledChildren<Attributes>((store, fallback) => Object.freeze({ [A.store]: store, [A.fallback]: fallback }));
  private readonly storeAttributes = new Map<string, Attributes>();

  private readonly memoryStores = new Set<{ readonly attributes: Attributes; readonly source: MemoryStoreSource }>();
  private readonly accessLogs = new Set<{ readonly source: AccessLogSource }>();
  private closed = false;

  constructor(private readonly meter: Meter) {
    const N = OTEL_METRIC_NAMES;
    this.decisions = meter.createCounter(N.decisions, {
      description: 'Throttle verdicts, one per throttle per request, by policy (scope), outcome and transport.',
      unit: '{decision}',
    });
    this.storeCallDuration = meter.createHistogram(N.storeCallDuration, {
      description: 'Duration of throttle store calls.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...STORE_CALL_BUCKETS_SECONDS] },
    });
    this.storeUp = meter.createGauge(N.storeUp, {
      description: 'Whether the throttle store answers (1) or is in an outage, its calls answered by the store-error policy (0).',
      unit: '1',
    });
    this.storeFallbacks = meter.createCounter(N.storeFallbacks, {
      description: 'Store calls answered by the store-error policy (allow, deny, local) because the store was down.',
      unit: '{call}',
    });
    this.memoryStoreEvictions = meter.createCounter(N.memoryStoreEvictions, {
      description: 'Keys forgotten by in-memory throttle stores, least recently used first, to stay within maxKeys.',
      unit: '{key}',
    });
    this.memoryStoreKeyCount = meter.createObservableUpDownCounter(N.memoryStoreKeyCount, {
      description: 'Keys (client buckets) held by in-memory throttle stores.',
      unit: '{key}',
    });
    this.accessLogBufferUsage = meter.createObservableUpDownCounter(N.accessLogBufferUsage, {
      description: 'Access log rows accepted and not yet written to PostgreSQL.',
      unit: '{row}',
    });
    this.accessLogWrittenRows = meter.createObservableCounter(N.accessLogWrittenRows, {
      description: 'Access log rows written to PostgreSQL.',
      unit: '{row}',
    });
    this.accessLogDroppedRows = meter.createObservableCounter(N.accessLogDroppedRows, {
      description: 'Access log rows lost: the buffer was full while the database was down, or they were still unwritten at shutdown.',
      unit: '{row}',
    });
    this.observables = [this.memoryStoreKeyCount, this.accessLogBufferUsage, this.accessLogWrittenRows, this.accessLogDroppedRows];
    meter.addBatchObservableCallback(this.observe, this.observables);
  }

  decision(policy: string | undefined, outcome: DecisionOutcome, transport: string): void {
    this.decisions.add(1, this.decisionAttributes.get(this.policies.of(policy), outcome, this.transports.of(transport)));
  }

  storeCall(store: string, operation: StoreOperation, seconds: number, result: StoreCallResult): void {
    this.storeCallDuration.record(seconds, this.storeCallAttributes.get(this.stores.of(store), operation, result));
  }

  storeState(store: string, up: boolean): void {
    this.storeUp.record(up ? 1 : 0, this.storeAttributesOf(store));
  }

  storeFallback(store: string, fallback: StoreErrorPolicy): void {
    this.storeFallbacks.add(1, this.fallbackAttributes.get(this.stores.of(store), fallback, ''));
  }

  memoryEviction(store: string): void {
    this.memoryStoreEvictions.add(1, this.storeAttributesOf(store));
  }

  observeMemoryStore(store: string, source: MemoryStoreSource): () => void {
    const observed = { attributes: this.storeAttributesOf(store), source };
    this.memoryStores.add(observed);
    return () => this.memoryStores.delete(observed);
  }

  observeAccessLog(source: AccessLogSource): () => void {
    const observed = { source };
    this.accessLogs.add(observed);
    return () => this.accessLogs.delete(observed);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.memoryStores.clear();
    this.accessLogs.clear();
    this.meter.removeBatchObservableCallback(this.observe, this.observables);
  }

  /** Called by the SDK at each collection. Stores of one kind are summed: one series per kind. */
  private readonly observe = (result: BatchObservableResult): void => {
    const keys = new Map<Attributes, number>();
    for (const { attributes, source } of this.memoryStores) keys.set(attributes, (keys.get(attributes) ?? 0) + source.size);
    for (const [attributes, count] of keys) result.observe(this.memoryStoreKeyCount, count, attributes);
    if (this.accessLogs.size === 0) return;
    let buffered = 0;
    let written = 0;
    let dropped = 0;
    for (const { source } of this.accessLogs) {
      const stats = source.stats();
      buffered += stats.buffered;
      written += stats.written;
      dropped += stats.dropped;
    }
    result.observe(this.accessLogBufferUsage, buffered);
    result.observe(this.accessLogWrittenRows, written);
    result.observe(this.accessLogDroppedRows, dropped);
  };

  private storeAttributesOf(store: string): Attributes {
    const label = this.stores.of(store);
    let attributes = this.storeAttributes.get(label);
    if (attributes === undefined) this.storeAttributes.set(label, (attributes = Object.freeze({ [A.store]: label })));
    return attributes;
  }
}

/** The label value that stands for every value past a label's bound. */
export const OTHER_LABEL = 'other';
/** The policy label of a throttle without a scope. */
export const UNNAMED_POLICY = 'unnamed';
/** Longer values are not names from code or configuration: they count as 'other'. */
const MAX_LABEL_LENGTH = 100;

/**
 * Keeps one label's values bounded: the first `limit` distinct values are reported as they are,
 * later ones as 'other'. Each distinct label value is one more time series, held in memory by
 * prom-client / the OTel SDK for the life of the process and by the metrics backend for its
 * retention: a policy name built from request data (a scope per tenant, say) would otherwise grow
 * both without end. First come, first kept, so a value never changes label once reported, and a
 * non-zero 'other' series shows that the bound was reached.
 */
export class BoundedLabel {
  private readonly kept = new Set<string>();

  constructor(
    readonly limit: number,
    private readonly missing: string = UNNAMED_POLICY,
  ) {}

  /** The value to report for `value`: itself while within the bound, else 'other'. */
  of(value: string | undefined): string {
    if (value === undefined || value === '') return this.missing;
    if (this.kept.has(value)) return value;
    if (this.kept.size >= this.limit || value.length > MAX_LABEL_LENGTH || value === OTHER_LABEL) return OTHER_LABEL;
    this.kept.add(value);
    return value;
  }
}

/** Policies (scopes) reported by name; beyond, 'other'. Apps declare a handful; 100 leaves room without letting a dynamic scope run away. */
export const MAX_POLICY_LABELS = 100;
/** Transports (http, ws, rpc, graphql and custom context types) and store kinds reported by name. */
export const MAX_TRANSPORT_LABELS = 20;
export const MAX_STORE_LABELS = 20;

/**
 * Children of a labelled instrument, cached by their (already bounded) label values so that the
 * hot path finds one with Map lookups and allocates nothing. Bounded because its keys are.
 */
export class LabelledChildren<T> {
  private readonly byFirst = new Map<string, Map<string, Map<string, T>>>();

  constructor(private readonly make: (first: string, second: string, third: string) => T) {}

  get(first: string, second: string, third: string): T {
    let bySecond = this.byFirst.get(first);
    if (bySecond === undefined) this.byFirst.set(first, (bySecond = new Map()));
    let byThird = bySecond.get(second);
    if (byThird === undefined) bySecond.set(second, (byThird = new Map()));
    let child = byThird.get(third);
    if (child === undefined) byThird.set(third, (child = this.make(first, second, third)));
    return child;
  }
}

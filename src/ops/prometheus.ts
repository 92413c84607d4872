/**
 * A small writer of the Prometheus text exposition format (version 0.0.4): counters, gauges
 * and histograms with labels, kept in memory by the instance that owns them. prom-client keeps
 * a process-wide default registry and Node's process metrics; this gateway needs neither.
 */

/** The Content-Type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label names to values of one series. */
export type Labels = Readonly<Record<string, string>>;

/** One metric family: a name, its help and type, and how it renders its samples. */
interface Family {
  /** Appends this family's lines in the text format to `lines`. */
  render(lines: string[]): void;
}

/** The families of one gateway, rendered in the order they were made. */
export class MetricRegistry {
  #families: Family[] = [];

  /** Makes a counter; `labelNames` fixes which labels every series has. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const counter = new Counter(name, help, labelNames);
    this.#families.push(counter);
    return counter;
  }

  /** Makes a gauge whose value is read when the registry renders. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const gauge = new Gauge(name, help, labelNames);
    this.#families.push(gauge);
    return gauge;
  }

  /** Makes a histogram with upper bounds `buckets` (ascending; +Inf is added). */
  histogram(
    name: string,
    help: string,
    options: { labelNames?: readonly string[]; buckets: readonly number[] },
  ): Histogram {
    const histogram = new Histogram(name, help, options.labelNames ?? [], options.buckets);
    this.#families.push(histogram);
    return histogram;
  }

  /** Renders every family in the text format, ending with a newline. */
  render(): string {
    const lines: string[] = [];
    for (const family of this.#families) family.render(lines);
    return `${lines.join("\n")}\n`;
  }
}

/** A monotonically increasing count per label set. */
export class Counter implements Family {
  #name: string;
  #help: string;
  #series: ValueSeries;

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.#name = name;
    this.#help = help;
    this.#series = new ValueSeries(labelNames);
  }

  /** Adds `by` (default 1, never negative) to the series with `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) return;
    this.#series.add(labels, by);
  }

  /** The current value of the series with `labels` (0 when it does not exist yet). */
  value(labels: Labels = {}): number {
    return this.#series.value(labels);
  }

  /** Appends this family's lines in the text format to `lines`. */
  render(lines: string[]): void {
    header(lines, this.#name, this.#help, "counter");
    this.#series.render(lines, this.#name, [...this.#series.entries()]);
  }
}

/** A value per label set that goes up and down, set directly or read when rendering. */
export class Gauge implements Family {
  #name: string;
  #help: string;
  #series: ValueSeries;
  #collect: (() => Iterable<[Labels, number]>) | undefined;

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.#name = name;
    this.#help = help;
    this.#series = new ValueSeries(labelNames);
  }

  /** Adds `by` (may be negative) to the series with `labels`. */
  add(by: number, labels: Labels = {}): void {
    this.#series.add(labels, by);
  }

  /** The current value of the series with `labels` (0 when it does not exist yet). */
  value(labels: Labels = {}): number {
    return this.#series.value(labels);
  }

  /** Replaces the stored series with what `collect` returns each time the gauge renders. */
  collectWith(collect: () => Iterable<[Labels, number]>): void {
    this.#collect = collect;
  }

  /** Appends this family's lines in the text format to `lines`. */
  render(lines: string[]): void {
    header(lines, this.#name, this.#help, "gauge");
    const series = this.#collect ? [...this.#collect()] : [...this.#series.entries()];
    this.#series.render(lines, this.#name, series);
  }
}

/** One number per label set: the stored values of a counter or a gauge. */
class ValueSeries {
  #labelNames: readonly string[];
  #values = new Map<string, { labels: Labels; value: number }>();

  constructor(labelNames: readonly string[]) {
    this.#labelNames = labelNames;
  }

  add(labels: Labels, by: number): void {
    const key = seriesKey(labels, this.#labelNames);
    const series = this.#values.get(key);
    if (series) series.value += by;
    else this.#values.set(key, { labels: { ...labels }, value: by });
  }

  value(labels: Labels): number {
    return this.#values.get(seriesKey(labels, this.#labelNames))?.value ?? 0;
  }

  *entries(): Iterable<[Labels, number]> {
    for (const { labels, value } of this.#values.values()) yield [labels, value];
  }

  /** Appends a sample line per series; a family without labels always has one, 0 at first. */
  render(lines: string[], name: string, series: readonly (readonly [Labels, number])[]): void {
    if (series.length === 0 && this.#labelNames.length === 0) lines.push(`${name} 0`);
    for (const [labels, value] of series) {
      lines.push(`${name}${formatLabels(labels, this.#labelNames)} ${formatNumber(value)}`);
    }
  }
}

interface HistogramSeries {
  labels: Labels;
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets per label set, with their sum and count. */
export class Histogram implements Family {
  #name: string;
  #help: string;
  #labelNames: readonly string[];
  #buckets: readonly number[];
  #series = new Map<string, HistogramSeries>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    this.#name = name;
    this.#help = help;
    this.#labelNames = labelNames;
    this.#buckets = [...buckets].sort((a, b) => a - b);
  }

  /** Records one observation `value` in the series with `labels`. */
  observe(value: number, labels: Labels = {}): void {
    if (!Number.isFinite(value)) return;
    const key = seriesKey(labels, this.#labelNames);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels: { ...labels }, counts: this.#buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    const index = this.#buckets.findIndex((bound) => value <= bound);
    if (index >= 0) series.counts[index] = (series.counts[index] ?? 0) + 1;
    series.sum += value;
    series.count++;
  }

  /** How many observations the series with `labels` has. */
  count(labels: Labels = {}): number {
    return this.#series.get(seriesKey(labels, this.#labelNames))?.count ?? 0;
  }

  /** Appends this family's lines in the text format to `lines`. */
  render(lines: string[]): void {
    header(lines, this.#name, this.#help, "histogram");
    for (const { labels, counts, sum, count } of this.#series.values()) {
      let cumulative = 0;
      this.#buckets.forEach((bound, i) => {
        cumulative += counts[i] ?? 0;
        lines.push(this.#bucketLine(labels, formatNumber(bound), cumulative));
      });
      lines.push(this.#bucketLine(labels, "+Inf", count));
      const plain = formatLabels(labels, this.#labelNames);
      lines.push(`${this.#name}_sum${plain} ${formatNumber(sum)}`);
      lines.push(`${this.#name}_count${plain} ${count}`);
    }
  }

  #bucketLine(labels: Labels, le: string, value: number): string {
    const withLe = { ...labels, le };
    return `${this.#name}_bucket${formatLabels(withLe, [...this.#labelNames, "le"])} ${value}`;
  }
}

function header(lines: string[], name: string, help: string, type: string): void {
  lines.push(`# HELP ${name} ${help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`);
  lines.push(`# TYPE ${name} ${type}`);
}

/** One key per label set, in the declared label order; missing labels count as "". */
function seriesKey(labels: Labels, labelNames: readonly string[]): string {
  return labelNames.map((name) => labels[name] ?? "").join("\u0000");
}

function formatLabels(labels: Labels, labelNames: readonly string[]): string {
  if (labelNames.length === 0) return "";
  const pairs = labelNames.map((name) => `${name}="${escapeLabelValue(labels[name] ?? "")}"`);
  return `{${pairs.join(",")}}`;
}

/** Escapes a label value as the format requires: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Reads Prometheus text with a real, strict parser (npm prom2javascript: it throws on a
 * malformed line or label and reads labelled histograms), with lookups for tests.
 */
import {
  getMetricsFromIterator,
  type PromData,
  type PromHistogramData,
  type PromMetrics,
} from "prom2javascript";

/** Parsed families by name. */
export type ParsedMetrics = PromMetrics;

/** Parses exposition text; rejects what the parser rejects. */
export function parseMetrics(text: string): Promise<ParsedMetrics> {
  return getMetricsFromIterator(text.split("\n")[Symbol.iterator]());
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const left = Object.entries(a).sort();
  const right = Object.entries(b).sort();
  return JSON.stringify(left) === JSON.stringify(right);
}

/** The value of the counter or gauge series `name{labels}`, or undefined when it is absent. */
export function valueOf(
  metrics: ParsedMetrics,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const data = (metrics[name]?.data ?? []) as PromData[];
  return data.find((series) => sameLabels(series.labels ?? {}, labels))?.value;
}

/** The histogram series `name{labels}`, or undefined when it is absent. */
export function histogramOf(
  metrics: ParsedMetrics,
  name: string,
  labels: Record<string, string> = {},
): PromHistogramData | undefined {
  const data = (metrics[name]?.data ?? []) as PromHistogramData[];
  return data.find((series) => sameLabels(series.labels ?? {}, labels));
}

/** Every value the label `label` takes across all families. */
export function labelValues(metrics: ParsedMetrics, label: string): Set<string> {
  const values = new Set<string>();
  for (const family of Object.values(metrics)) {
    for (const series of family.data) {
      const value = series.labels?.[label];
      if (value !== undefined) values.add(value);
    }
  }
  return values;
}

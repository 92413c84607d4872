/**
 * The recent-request journal: the last N finished requests in memory (facts only, never a
 * prompt or an answer), totals per model since start, and request counts per minute.
 */
import type { ErrorKind } from "../errors.ts";

/** What is recorded about one finished request; the same record feeds the metrics. */
export interface RequestRecord {
  /** When the request arrived, as an ISO 8601 string. */
  time: string;
  requestId: string;
  method: string;
  /** The route table's path, or `unmatched`; never the raw path. */
  route: string;
  dialect: "openai" | "anthropic" | "responses";
  /** The resolved Kiro model id from the catalogue, or `other`. */
  model?: string;
  /** The account that served the request. */
  account?: string;
  status: number;
  stream?: boolean;
  /** Milliseconds until the first body byte was handed to the client. */
  ttfbMs?: number;
  durationMs: number;
  inputTokens?: number;
  outputTokens?: number;
  credits?: number;
  /** The error kind, whether it became the status or arrived in-band after the headers. */
  errorClass?: ErrorKind;
  /** Whether Kiro cut the reply off (stop reason max_tokens). */
  truncated?: boolean;
  /** Web searches the gateway ran for this request. */
  webSearches?: number;
}

/** Totals of one model since the gateway started. */
export interface ModelTotals {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  credits: number;
}

/** Requests that finished within one minute. */
export interface MinuteCount {
  /** The minute's start, as an ISO 8601 string. */
  minute: string;
  requests: number;
}

/** Options of a RequestJournal. */
export interface RequestJournalOptions {
  /** How many records are kept (JOURNAL_SIZE); the oldest goes first. */
  size: number;
  /** How many minutes of per-minute counts are kept (default 30). */
  minutes?: number;
}

const MINUTE_MS = 60_000;

/** Keeps the last `size` request records, per-model totals and per-minute counts. */
export class RequestJournal {
  readonly size: number;
  #minutes: number;
  #ring: (RequestRecord | undefined)[];
  #next = 0;
  #requests = 0;
  #errors = 0;
  #totals = new Map<string, ModelTotals>();
  /** Minute start (epoch ms) → requests, oldest first. */
  #perMinute = new Map<number, number>();

  constructor(options: RequestJournalOptions) {
    this.size = Math.max(1, Math.floor(options.size));
    this.#minutes = options.minutes ?? 30;
    this.#ring = new Array(this.size);
  }

  /** Records a finished request; `finishedAtMs` places it in its minute. */
  add(record: RequestRecord, finishedAtMs: number): void {
    this.#ring[this.#next] = record;
    this.#next = (this.#next + 1) % this.size;
    this.#requests++;
    if (record.errorClass !== undefined) this.#errors++;
    const minute = Math.floor(finishedAtMs / MINUTE_MS) * MINUTE_MS;
    this.#perMinute.set(minute, (this.#perMinute.get(minute) ?? 0) + 1);
    for (const start of this.#perMinute.keys()) {
      if (start > minute - this.#minutes * MINUTE_MS) break;
      this.#perMinute.delete(start);
    }
    if (record.model === undefined) return;
    const totals = this.#totals.get(record.model) ??
      { requests: 0, errors: 0, inputTokens: 0, outputTokens: 0, credits: 0 };
    totals.requests++;
    if (record.errorClass !== undefined) totals.errors++;
    totals.inputTokens += record.inputTokens ?? 0;
    totals.outputTokens += record.outputTokens ?? 0;
    totals.credits = roundCredits(totals.credits + (record.credits ?? 0));
    this.#totals.set(record.model, totals);
  }

  /** The kept records, newest first. */
  recent(): RequestRecord[] {
    const out: RequestRecord[] = [];
    for (let i = 1; i <= this.size; i++) {
      const record = this.#ring[(this.#next - i + this.size) % this.size];
      if (record === undefined) break;
      out.push(record);
    }
    return out;
  }

  /** Requests and failed requests recorded since start. */
  counts(): { requests: number; errors: number } {
    return { requests: this.#requests, errors: this.#errors };
  }

  /** Totals per model since start, keyed by model label. */
  totals(): Record<string, ModelTotals> {
    return Object.fromEntries([...this.#totals].map(([model, t]) => [model, { ...t }]));
  }

  /** Requests per minute for the kept minutes up to the one holding `nowMs`, oldest first. */
  perMinute(nowMs: number): MinuteCount[] {
    const current = Math.floor(nowMs / MINUTE_MS) * MINUTE_MS;
    const out: MinuteCount[] = [];
    for (let i = this.#minutes - 1; i >= 0; i--) {
      const start = current - i * MINUTE_MS;
      out.push({
        minute: new Date(start).toISOString(),
        requests: this.#perMinute.get(start) ?? 0,
      });
    }
    return out;
  }
}

/** Credits are fractions; sums are kept to six places so they do not drift. */
function roundCredits(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

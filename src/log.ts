// deno-lint-ignore-file no-console -- the logger is the one module that writes to the console
/**
 * The only module that writes to the console. A Logger is created once in main.ts and passed
 * to everything else through deps; child loggers carry fields such as the request id.
 */

/** Log levels from the most to the least verbose. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

/** How log lines are written: human-readable text or one JSON object per line. */
export type LogFormat = "text" | "json";

const LEVEL_RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** One log line before it is formatted. */
export interface LogRecord {
  time: string;
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

/** Receives every record a logger emits at or above its level (debug capture uses this). */
export type LogListener = (record: LogRecord) => void;

/** Options of a Logger. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where formatted lines go; defaults to the console. Tests pass an array's push. */
  write?: (line: string, level: LogLevel) => void;
  /** The clock, injectable for tests. */
  now?: () => Date;
}

const SECRET_KEY = /token|secret|password|api[-_]?key|authorization|cookie/i;

/** Shows the first 4 characters of a secret and hides the rest: `aoaA…(120 chars)`. */
export function redact(secret: string | undefined | null): string {
  if (!secret) return "(none)";
  if (secret.length <= 8) return "****";
  return `${secret.slice(0, 4)}…(${secret.length} chars)`;
}

/** Deep-copies a JSON-like value, redacting every string under a key that names a secret. */
export function redactSecrets<T>(value: T): T {
  return redactValue(value, false) as T;
}

function redactValue(value: unknown, secret: boolean): unknown {
  if (typeof value === "string") return secret ? redact(value) : value;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, secret));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = redactValue(item, secret || SECRET_KEY.test(key));
    }
    return out;
  }
  return value;
}

/** A levelled logger that redacts secret-named fields before anything is written. */
export class Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  #write: (line: string, level: LogLevel) => void;
  #now: () => Date;
  #fields: LogFields;
  #listeners: Set<LogListener>;

  constructor(options: LoggerOptions = {}, fields: LogFields = {}, listeners?: Set<LogListener>) {
    this.level = options.level ?? "info";
    this.format = options.format ?? "text";
    this.#write = options.write ?? writeToConsole;
    this.#now = options.now ?? (() => new Date());
    this.#fields = fields;
    this.#listeners = listeners ?? new Set();
  }

  /** Returns a logger that adds `fields` to every line it writes. */
  child(fields: LogFields): Logger {
    return new Logger(
      { level: this.level, format: this.format, write: this.#write, now: this.#now },
      { ...this.#fields, ...fields },
      this.#listeners,
    );
  }

  /** Registers a listener for every record; returns a function that removes it. */
  listen(listener: LogListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether a line at `level` would be written. */
  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= LEVEL_RANK[this.level];
  }

  /** Writes a trace line. */
  trace(msg: string, fields?: LogFields): void {
    this.#log("trace", msg, fields);
  }
  /** Writes a debug line. */
  debug(msg: string, fields?: LogFields): void {
    this.#log("debug", msg, fields);
  }
  /** Writes an info line. */
  info(msg: string, fields?: LogFields): void {
    this.#log("info", msg, fields);
  }
  /** Writes a warning line. */
  warn(msg: string, fields?: LogFields): void {
    this.#log("warn", msg, fields);
  }
  /** Writes an error line. */
  error(msg: string, fields?: LogFields): void {
    this.#log("error", msg, fields);
  }

  #log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const record: LogRecord = {
      time: this.#now().toISOString(),
      level,
      msg,
      fields: redactSecrets({ ...this.#fields, ...fields }),
    };
    for (const listener of this.#listeners) listener(record);
    this.#write(formatRecord(record, this.format), level);
  }
}

/** Formats a record as one text or JSON line. */
export function formatRecord(record: LogRecord, format: LogFormat): string {
  if (format === "json") {
    return JSON.stringify({
      time: record.time,
      level: record.level,
      msg: record.msg,
      ...record.fields,
    });
  }
  const extras = Object.entries(record.fields)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  return `${record.time} ${record.level.toUpperCase().padEnd(5)} ${record.msg}${
    extras ? ` ${extras}` : ""
  }`;
}

function writeToConsole(line: string, level: LogLevel): void {
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}

/** A logger that writes nothing, for tests and tools. */
export function silentLogger(): Logger {
  return new Logger({ level: "error", write: () => {} });
}

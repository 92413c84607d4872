/**
 * The Kiro API call: headers, retries and timeouts (spec §1.2, §6.1–6.4). Every retry happens
 * before the first byte reaches the client; after that, a stall ends the stream with an error.
 *
 * Unlike the reference, no `Connection: close` is sent: it worked around half-closed sockets
 * in one Python HTTP client, and reusing connections saves a TCP and TLS handshake per chat.
 */
import type { Config } from "../config.ts";
import { GatewayError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { KiroAccess, TokenSource } from "../auth/token_source.ts";
import { readBodyCapped } from "../core/http_body.ts";
import { type PlainSource, sourceStream } from "../core/plain_source.ts";
import { apiBaseUrl, kiroUserAgents, qBaseUrl } from "./endpoints.ts";
import { upstreamError } from "./upstream_errors.ts";

/** Longest Retry-After the gateway waits out itself; longer ones go back to the client. */
const MAX_RETRY_AFTER_MS = 30_000;

/** How long one MCP (web search) attempt may take, response body included (spec §1.6). */
export const MCP_TIMEOUT_MS = 60_000;

/** The largest MCP answer read, in bytes: a search returns a few kilobytes. */
const MAX_MCP_RESPONSE_BYTES = 2 * 1024 * 1024;

/** Options of a KiroClient. */
export interface KiroClientOptions {
  config: Readonly<Config>;
  tokens: TokenSource;
  logger: Logger;
  /** A 64-hex machine fingerprint (see endpoints.ts). */
  fingerprint: string;
  /** The fetch to use; app.ts passes one that goes through VPN_PROXY_URL when set. */
  fetch?: typeof fetch;
  /** Waits `ms` or rejects when `signal` aborts; injectable so tests need no real delays. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Base of the 1 s, 2 s, 4 s backoff, in ms. */
  retryBaseMs?: number;
  /** Told each time a call is tried again, with why (the metrics count these). */
  onRetry?: (reason: RetryReason) => void;
}

/** Why a Kiro call was tried again before its first byte. */
export type RetryReason =
  | "throttled"
  | "server_error"
  | "forbidden"
  | "network"
  | "first_byte_timeout";

/** What one send() needs besides the payload. */
export interface SendOptions {
  /** Called before each attempt with fresh credentials; returns the JSON body to send. */
  buildBody: (access: KiroAccess) => string;
  /**
   * Awaited once, when credentials are ready and before the first attempt, outside the
   * first-byte timeout (the backend loads the model catalogue there, with the same token).
   */
  beforeFirstAttempt?: () => Promise<void>;
  /** The Kiro model id, named in errors such as INVALID_MODEL_ID. */
  modelId?: string;
  /** Enriches a 400 "Improperly formed request" message with what the gateway knows. */
  likelyCause?: () => string | undefined;
  /** Told about each attempt's outcome, for logs and debug capture. */
  onAttempt?: (info: { attempt: number; status?: number; error?: string }) => void;
}

/** Sends generateAssistantResponse calls to Kiro with the reference's retry rules. */
export class KiroClient {
  #options: KiroClientOptions;
  #fetch: typeof fetch;
  #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #retryBaseMs: number;
  #agents: { userAgent: string; amzUserAgent: string };

  constructor(options: KiroClientOptions) {
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#retryBaseMs = options.retryBaseMs ?? 1000;
    this.#agents = kiroUserAgents(options.fingerprint);
  }

  /**
   * Sends one chat call. Resolves with the response body once its first byte has arrived
   * (that byte included); rejects with a GatewayError when every attempt failed. Aborting
   * `signal` cancels the call at any point; cancelling the returned stream closes the body.
   *
   * Two budgets apply: up to 3 attempts for error statuses and network failures (403 refreshes
   * the token; 429, 5xx and network errors back off 1 s, 2 s, 4 s or as Retry-After says), and
   * up to FIRST_TOKEN_MAX_RETRIES attempts for answers whose first byte does not come within
   * FIRST_TOKEN_TIMEOUT (headers included).
   */
  async send(options: SendOptions, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const { config } = this.#options;
    const first = await this.#withRetries({
      ...options,
      maxTimeouts: config.firstTokenMaxRetries,
      timeoutError: (timeouts) =>
        new GatewayError(
          "upstream_timeout",
          `Kiro did not answer within ${
            config.firstTokenTimeoutMs / 1000
          } s after ${timeouts} attempts: try again, or raise FIRST_TOKEN_TIMEOUT`,
        ),
      exchange: (access) =>
        this.#exchange({
          timeoutMs: config.firstTokenTimeoutMs,
          post: (attemptSignal) => this.#postChat(access, options.buildBody(access), attemptSignal),
          read: async (response) => {
            const reader = new BodyReader(response.body!);
            return { reader, first: await reader.read() };
          },
        }, signal),
    }, signal);
    return bodyStream(first.reader, first.first, config.streamingReadTimeoutMs);
  }

  /**
   * POSTs one JSON-RPC body to Kiro's MCP endpoint (spec §1.5) and returns the text of its 200
   * answer. Same retries, token refresh and proxy as send(); one attempt may take MCP_TIMEOUT_MS
   * (a timeout is not retried). Rejects with a GatewayError when every attempt failed.
   */
  async callMcp(body: string, signal: AbortSignal): Promise<string> {
    return await this.#withRetries({
      maxTimeouts: 1,
      timeoutError: () =>
        new GatewayError(
          "upstream_timeout",
          `Kiro web search did not answer within ${MCP_TIMEOUT_MS / 1000} s`,
        ),
      exchange: (access) =>
        this.#exchange({
          timeoutMs: MCP_TIMEOUT_MS,
          post: (attemptSignal) => this.#postMcp(access, body, attemptSignal),
          read: async (response) => {
            const bytes = await readBodyCapped(response, MAX_MCP_RESPONSE_BYTES);
            if (bytes === undefined) {
              throw new GatewayError(
                "upstream_protocol",
                `Kiro web search answered with more than ${MAX_MCP_RESPONSE_BYTES} bytes`,
              );
            }
            return new TextDecoder().decode(bytes);
          },
        }, signal),
    }, signal);
  }

  /** The retry loop of every Kiro call (spec §6.1); `exchange` makes one attempt. */
  async #withRetries<T>(policy: RetryPolicy<T>, signal: AbortSignal): Promise<T> {
    const { tokens, logger } = this.#options;
    const maxAttempts = 3;
    let failures = 0;
    let timeouts = 0;
    let lastFailure: GatewayError | undefined;
    let access = await tokens.getAccess();
    await policy.beforeFirstAttempt?.();
    while (true) {
      const result = await policy.exchange(access);
      if (result.kind === "ok") {
        policy.onAttempt?.({ attempt: failures + timeouts, status: 200 });
        return result.value;
      }
      if (result.kind === "timeout") {
        timeouts++;
        policy.onAttempt?.({ attempt: failures + timeouts, error: "timeout" });
        logger.warn("Kiro did not answer in time", { attempt: timeouts });
        if (timeouts >= policy.maxTimeouts) throw policy.timeoutError(timeouts);
        this.#options.onRetry?.("first_byte_timeout");
        continue;
      }
      failures++;
      const isLast = failures >= maxAttempts;
      if (result.kind === "network") {
        lastFailure = result.error;
        policy.onAttempt?.({ attempt: failures + timeouts, error: result.error.message });
        logger.warn("Kiro call failed", { attempt: failures, error: result.error.message });
        if (isLast) throw lastFailure;
        this.#options.onRetry?.("network");
        await this.#sleep(this.#retryBaseMs * 2 ** (failures - 1), signal);
        continue;
      }
      const { status, text, retryAfterMs } = result;
      policy.onAttempt?.({ attempt: failures + timeouts, status });
      lastFailure = upstreamError(status, text, {
        likelyCause: status === 400 ? policy.likelyCause?.() : undefined,
        modelId: policy.modelId,
        retryAfterSeconds: retryAfterMs === undefined ? undefined : retryAfterMs / 1000,
      });
      logger.warn("Kiro answered with an error", { attempt: failures, status });
      if (status === 403 && !isLast) {
        this.#options.onRetry?.("forbidden");
        access = await tokens.forceRefresh(access.accessToken);
        continue;
      }
      if ((status === 429 || status >= 500) && !isLast) {
        const waitMs = retryAfterMs ?? this.#retryBaseMs * 2 ** (failures - 1);
        if (waitMs > MAX_RETRY_AFTER_MS) throw lastFailure;
        this.#options.onRetry?.(status === 429 ? "throttled" : "server_error");
        await this.#sleep(waitMs, signal);
        access = await tokens.getAccess();
        continue;
      }
      throw lastFailure;
    }
  }

  /**
   * One HTTP exchange: `post`, then `read` of a 200 answer, all within `timeoutMs`. Error
   * statuses come back with their body text; nothing is retried here.
   */
  async #exchange<T>(step: ExchangeStep<T>, signal: AbortSignal): Promise<Exchange<T>> {
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException("Kiro did not answer in time", "TimeoutError")),
      step.timeoutMs,
    );
    const attemptSignal = AbortSignal.any([signal, deadline.signal]);
    try {
      const response = await step.post(attemptSignal);
      if (!response.ok) {
        const text = await response.text();
        const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
        return { kind: "status", status: response.status, text, retryAfterMs };
      }
      return { kind: "ok", value: await step.read(response) };
    } catch (err) {
      if (signal.aborted) throw abortError(signal);
      if (deadline.signal.aborted) return { kind: "timeout" };
      if (err instanceof GatewayError && err.kind === "upstream_protocol") throw err;
      return { kind: "network", error: networkError(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  #postChat(access: KiroAccess, body: string, signal: AbortSignal): Promise<Response> {
    const url = `${
      apiBaseUrl(access.apiRegion, this.#options.config.upstream)
    }/generateAssistantResponse`;
    return this.#fetch(url, {
      method: "POST",
      headers: {
        "authorization": `Bearer ${access.accessToken}`,
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
        "user-agent": this.#agents.userAgent,
        "x-amz-user-agent": this.#agents.amzUserAgent,
        "x-amzn-codewhisperer-optout": "true",
        "x-amzn-kiro-agent-mode": "vibe",
        "amz-sdk-invocation-id": crypto.randomUUID(),
        "amz-sdk-request": "attempt=1; max=3",
      },
      body,
      signal,
    });
  }

  /** The MCP call's headers (spec §1.5): without the profile ARN and SDK headers Kiro says 400. */
  #postMcp(access: KiroAccess, body: string, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {
      "authorization": `Bearer ${access.accessToken}`,
      "content-type": "application/json",
      "accept": "*/*",
      "user-agent": this.#agents.userAgent,
      "x-amz-user-agent": this.#agents.amzUserAgent,
      "amz-sdk-invocation-id": crypto.randomUUID(),
      "amz-sdk-request": "attempt=1; max=3",
    };
    if (access.profileArn) headers["x-amzn-kiro-profile-arn"] = access.profileArn;
    const url = `${qBaseUrl(access.apiRegion, this.#options.config.upstream)}/mcp`;
    return this.#fetch(url, { method: "POST", headers, body, signal });
  }
}

/** One attempt's request and how its 200 answer is read. */
interface ExchangeStep<T> {
  /** Covers the request and `read`. */
  timeoutMs: number;
  post: (signal: AbortSignal) => Promise<Response>;
  read: (response: Response) => Promise<T>;
}

/** How #withRetries runs one kind of call. */
interface RetryPolicy<T> extends Omit<SendOptions, "buildBody"> {
  /** Makes one attempt with the given credentials. */
  exchange: (access: KiroAccess) => Promise<Exchange<T>>;
  /** Attempts that may time out before the call fails with timeoutError. */
  maxTimeouts: number;
  timeoutError: (timeouts: number) => GatewayError;
}

type Exchange<T> =
  | { kind: "ok"; value: T }
  | { kind: "status"; status: number; text: string; retryAfterMs?: number }
  | { kind: "timeout" }
  | { kind: "network"; error: GatewayError };

/**
 * The buffer a body is first read into (reads return at most this many bytes): small, as it
 * lives as long as the stream, and a streamed answer's frames come one per read anyway.
 */
const READ_BUFFER_BYTES = 4 * 1024;

/**
 * The largest the buffer grows to: a read that fills it means bulk (many frames per network
 * chunk), where each read costs as much as the bytes it brings, so the buffer grows fourfold
 * up to this.
 */
const MAX_READ_BUFFER_BYTES = 64 * 1024;

/**
 * Reads a response body chunk by chunk. A byte stream (what fetch returns) is read into one
 * reused buffer, and each chunk is a view of it until the next read: the default reader
 * allocates a zeroed 64 KiB buffer for every read, and a copy per read costs an allocation,
 * which add up when Kiro sends one small frame per read. Other streams are read as they are.
 */
class BodyReader {
  #byob: ReadableStreamBYOBReader | undefined;
  #plain: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #buffer: Uint8Array<ArrayBuffer> | undefined;

  constructor(body: ReadableStream<Uint8Array>) {
    try {
      this.#byob = body.getReader({ mode: "byob" });
      this.#buffer = new Uint8Array(READ_BUFFER_BYTES);
    } catch {
      this.#plain = body.getReader();
    }
  }

  /**
   * The next chunk, or undefined at the end of the body. A chunk from a byte stream is a view
   * of the read buffer, valid until the next read (copy it to keep it: see `lends`).
   */
  async read(): Promise<Uint8Array | undefined> {
    if (this.#plain) {
      const result = await this.#plain.read();
      return result.done ? undefined : result.value;
    }
    while (this.#buffer) {
      const result = await this.#byob!.read(this.#buffer);
      // The read transferred the buffer into `result.value`; take it back for the next read.
      if (result.value) this.#buffer = new Uint8Array(result.value.buffer);
      if (result.done) {
        this.#buffer = undefined; // the body is over: do not keep the buffer per finished stream
        return undefined;
      }
      const length = result.value.byteLength;
      if (length === this.#buffer.byteLength && length < MAX_READ_BUFFER_BYTES) {
        // The chunk stays a view of the old buffer; the next read goes into a larger one.
        this.#buffer = new Uint8Array(length * 4);
      }
      if (length > 0) return result.value;
    }
    return undefined;
  }

  /** Whether chunks are views of the reused read buffer (a byte stream's). */
  get lends(): boolean {
    return this.#byob !== undefined;
  }

  /** Cancels the body. */
  cancel(reason?: unknown): Promise<void> {
    return (this.#byob ?? this.#plain)!.cancel(reason);
  }
}

/**
 * The rest of the body as a pull stream that starts with `first`. A read that waits longer
 * than `idleTimeoutMs` errors the stream with `upstream_timeout` and closes the body. One timer
 * per stream watches the waiting read (re-armed for the time left when it fires early), rather
 * than one timer per chunk; it never outlives the stream's end, error or cancel.
 */
function bodyStream(
  reader: BodyReader,
  first: Uint8Array | undefined,
  idleTimeoutMs: number,
): ReadableStream<Uint8Array> {
  // A plain source: pipeToEvents reads it without a stream hop per chunk.
  return sourceStream<Uint8Array>(new BodySource(reader, first, idleTimeoutMs));
}

/** bodyStream's state in one fixed-shape object: no closures per stream but the timer's. */
class BodySource implements PlainSource<Uint8Array> {
  #reader: BodyReader;
  #pending: Uint8Array | undefined;
  #idleTimeoutMs: number;
  /**
   * When the waiting read started (Date.now(): a builtin, where performance.now() is a call
   * into the runtime, measurable at one per read), or -1 while no read waits.
   */
  #readStartedAt = -1;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #finished = false;
  /** Why the stream failed while a read waited (the idle timeout), thrown by that read. */
  #failure: GatewayError | undefined = undefined;
  /** The timer's callback, made once per stream. */
  #onTimer: () => void;

  constructor(reader: BodyReader, first: Uint8Array | undefined, idleTimeoutMs: number) {
    this.#reader = reader;
    this.#pending = first;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#onTimer = () => this.#timerFired();
  }

  #stopTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #timerFired(): void {
    this.#timer = undefined;
    if (this.#finished || this.#readStartedAt < 0) return; // the next read arms it again
    const waitedMs = Date.now() - this.#readStartedAt;
    if (waitedMs < this.#idleTimeoutMs) {
      this.#timer = setTimeout(this.#onTimer, this.#idleTimeoutMs - waitedMs);
      return;
    }
    this.#finished = true;
    this.#failure = new GatewayError(
      "upstream_timeout",
      `Kiro stopped sending for ${
        this.#idleTimeoutMs / 1000
      } s in the middle of the answer (STREAMING_READ_TIMEOUT)`,
    );
    // Ends the waiting read, which then throws the failure.
    this.#reader.cancel().catch(() => {});
  }

  /** A copy of a chunk, which is otherwise lent (see BodyReader.read). */
  keep(chunk: Uint8Array): Uint8Array {
    return this.#reader.lends ? chunk.slice() : chunk;
  }

  async next(): Promise<Uint8Array | undefined> {
    if (this.#pending) {
      const chunk = this.#pending;
      this.#pending = undefined;
      return chunk;
    }
    if (this.#finished) {
      if (this.#failure) throw this.#failure;
      return undefined;
    }
    this.#readStartedAt = Date.now();
    this.#timer ??= setTimeout(this.#onTimer, this.#idleTimeoutMs);
    let chunk: Uint8Array | undefined;
    try {
      chunk = await this.#reader.read();
    } catch (err) {
      if (this.#failure) throw this.#failure;
      if (this.#finished) return undefined; // cancelled while the read waited
      this.#finished = true;
      this.#stopTimer();
      throw networkError(err);
    } finally {
      this.#readStartedAt = -1;
    }
    if (this.#finished) {
      // Timed out or cancelled while the read waited.
      if (this.#failure) throw this.#failure;
      return undefined;
    }
    if (chunk === undefined) {
      this.#finished = true;
      this.#stopTimer();
    }
    return chunk;
  }

  cancel(reason?: unknown): Promise<void> {
    this.#finished = true;
    this.#stopTimer();
    return this.#reader.cancel(reason);
  }
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The client went away", "AbortError");
}

/** Turns a fetch failure into a GatewayError naming what went wrong. */
function networkError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new GatewayError("upstream_unreachable", `Cannot reach Kiro: ${detail}`, { cause: err });
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

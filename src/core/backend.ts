/**
 * The seam between dialects and Kiro: dialects depend only on this interface, so they can be
 * tested with a scripted backend and the Kiro side can change without touching them.
 */
import type { ChatEvent, ChatRequest, WebSearchHit } from "./chat.ts";

/** A model the gateway offers, with its limits. */
export interface ModelInfo {
  /** The id clients send (`claude-sonnet-4.5`, `auto-kiro`). */
  id: string;
  displayName: string;
  /** Context window in tokens. */
  contextWindow: number;
  /** Output limit in tokens, when Kiro publishes one. */
  maxOutputTokens?: number;
}

/** Receives what a backend sent upstream and the bytes it got back, for debug capture. */
export interface UpstreamRecorder {
  /** The request body sent upstream (the last attempt wins). */
  recordKiroRequest(body: string): void;
  /** Upstream response bytes, as they arrive. */
  recordUpstreamChunk(chunk: Uint8Array): void;
}

/** Optional per-request extras the server passes to send(): the request's logger and capture. */
export interface SendContext {
  logger?: import("../log.ts").Logger;
  capture?: UpstreamRecorder;
  /** Sees every reply event as it is handed on (usage and errors for the log line). */
  onEvent?: (event: ChatEvent) => void;
  /** The client's session id from its headers, for the account pool's conversation affinity. */
  sessionKey?: string;
  /** Told which account (its name) answered, for the log line. */
  onAccount?: (name: string) => void;
  /** Call once for each web search run for the request (metrics and journal count them). */
  onWebSearch?: () => void;
}

/** Sends neutral chat requests upstream and lists models. */
export interface ChatBackend {
  /**
   * Sends `chat` upstream. Resolves once the upstream has answered (its first byte), with a
   * stream of events that never errors: a failure after that point arrives as one `error`
   * event and ends the stream. Rejects with a GatewayError before that point (bad request,
   * upstream status, timeouts after retries). Aborting `signal` cancels the upstream call;
   * cancelling the returned stream does the same. `context` is optional and only observes.
   */
  send(
    chat: ChatRequest,
    signal: AbortSignal,
    context?: SendContext,
  ): Promise<ReadableStream<ChatEvent>>;
  /** Estimates the input tokens of `chat` locally (count_tokens and message_start agree). */
  countInputTokens(chat: ChatRequest): number;
  /**
   * Runs one web search with this backend's account (Kiro's MCP endpoint), when the backend
   * can search. Rejects with a GatewayError when the search failed; never invents results.
   */
  searchWeb?(query: string, signal: AbortSignal, context?: SendContext): Promise<WebSearchHit[]>;
  /** Lists the models clients may use. */
  listModels(): Promise<ModelInfo[]>;
}

/** What a route handler gets: everything from here, nothing from module state. */
export interface HandlerDeps {
  config: Readonly<import("../config.ts").Config>;
  logger: import("../log.ts").Logger;
  backend: ChatBackend;
  /** The clock in epoch milliseconds. */
  now: () => number;
  /** Returns `bytes` random bytes as lower-case hex (ids such as `chatcmpl-…`). */
  randomHex: (bytes: number) => string;
  /** State that outlives a request (stored responses, account health); one per gateway. */
  state: import("../state/state.ts").StateStore;
  /** Call once for each web search run for the request (metrics and journal count them). */
  onWebSearch?: () => void;
}

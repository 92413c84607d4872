/**
 * ChatEvents to Anthropic streaming events (spec §7.5): `message_start` and a `ping` first,
 * content blocks with consecutive indexes, then `message_delta` and `message_stop`; an
 * `error` event ends the stream in-band. Pings keep long silences (thinking) alive.
 */
import { type ChatEvent, replyEndedEarly, type Usage, type WebSearchHit } from "../../core/chat.ts";
import { KeepAlive } from "../../core/keep_alive.ts";
import type { SseMessage } from "../../core/sse.ts";
import { GatewayError } from "../../errors.ts";
import { anthropicErrorBody } from "./errors.ts";

/** How often a ping is sent while no event arrives, unless the caller says otherwise. */
export const DEFAULT_PING_INTERVAL_MS = 10_000;

/** What the stream needs to know about the reply it renders. */
export interface AnthropicStreamContext {
  /** The message id (`msg_` + 24 hex). */
  id: string;
  /** The model as the client sent it. */
  model: string;
  /** The local input estimate, reported in `message_start` (count_tokens gives the same). */
  inputTokens: number;
  /**
   * The placeholder signature of thinking split out of `<thinking>` tags (`sig_` + 32 hex);
   * native reasoning carries Kiro's own. Never sent back to Kiro: it lacks the gateway's mark.
   */
  signature: string;
  pingIntervalMs?: number;
}

/** Anthropic usage fields. */
export interface AnthropicUsage {
  /** Input tokens outside the cache, as Anthropic counts them. */
  input_tokens: number;
  /** Input tokens written to the cache: 0 unless Kiro reported some. */
  cache_creation_input_tokens: number;
  /** Input tokens read from the cache: 0 unless Kiro reported some. */
  cache_read_input_tokens: number;
  output_tokens: number;
  /** The gateway's web searches for this reply, when the request allowed searching. */
  server_tool_use?: { web_search_requests: number };
}

/**
 * Anthropic usage for a reply's Usage: the cached parts are taken out of `input_tokens`, as
 * Anthropic reports them; cache fields are 0 when Kiro gave none (never estimated).
 */
export function toAnthropicUsage(usage: Usage): AnthropicUsage {
  const cacheRead = usage.cacheReadInputTokens ?? 0;
  const cacheCreation = usage.cacheCreationInputTokens ?? 0;
  const out: AnthropicUsage = {
    input_tokens: Math.max(0, usage.inputTokens - cacheRead - cacheCreation),
    cache_creation_input_tokens: cacheCreation,
    cache_read_input_tokens: cacheRead,
    output_tokens: usage.outputTokens,
  };
  if (usage.webSearchRequests !== undefined) {
    out.server_tool_use = { web_search_requests: usage.webSearchRequests };
  }
  return out;
}

/** A `web_search_tool_result` block's content: the results, or Anthropic's error object. */
export type AnthropicSearchContent =
  | Array<{
    type: "web_search_result";
    title: string;
    url: string;
    encrypted_content: string;
    page_age: string | null;
  }>
  | { type: "web_search_tool_result_error"; error_code: string };

/**
 * The content of a search's result block. Snippets travel in `encrypted_content` (Kiro has no
 * encrypted form), so a client that sends the block back gives the model its text again.
 */
export function toAnthropicSearchContent(
  results: WebSearchHit[],
  error?: { code: string },
): AnthropicSearchContent {
  if (error) return { type: "web_search_tool_result_error", error_code: error.code };
  return results.map((hit) => ({
    type: "web_search_result",
    title: hit.title,
    url: hit.url,
    encrypted_content: hit.snippet,
    page_age: hit.publishedAt === undefined
      ? null
      : new Date(hit.publishedAt).toUTCString().slice(5, 16),
  }));
}

/** The thinking or text block a reply is in. */
interface OpenBlock {
  kind: "thinking" | "text";
  index: number;
  /** Each delta's JSON up to its text. */
  deltaHead: string;
}

/** Renders a reply's ChatEvents as Anthropic SSE messages (the logic of AnthropicSseStream). */
export function anthropicEvents(ctx: AnthropicStreamContext): Transformer<ChatEvent, SseMessage> {
  let open: OpenBlock | undefined;
  let nextIndex = 0;
  let finished = false;
  let keepAlive: KeepAlive | undefined;
  const stopTimer = () => keepAlive?.stop();
  const sse = (event: string, data: unknown): SseMessage => ({
    event,
    data: JSON.stringify(data),
  });
  const closeOpen = (
    controller: TransformStreamDefaultController<SseMessage>,
    signature = ctx.signature,
  ) => {
    if (!open) return;
    if (open.kind === "thinking") {
      controller.enqueue(sse("content_block_delta", {
        type: "content_block_delta",
        index: open.index,
        delta: { type: "signature_delta", signature },
      }));
    }
    controller.enqueue(
      sse("content_block_stop", { type: "content_block_stop", index: open.index }),
    );
    open = undefined;
  };
  const startBlock = (
    controller: TransformStreamDefaultController<SseMessage>,
    block: Record<string, unknown>,
  ): number => {
    closeOpen(controller);
    const index = nextIndex++;
    controller.enqueue(sse("content_block_start", {
      type: "content_block_start",
      index,
      content_block: block,
    }));
    return index;
  };
  const delta = (
    controller: TransformStreamDefaultController<SseMessage>,
    index: number,
    body: Record<string, unknown>,
  ) => {
    controller.enqueue(sse("content_block_delta", {
      type: "content_block_delta",
      index,
      delta: body,
    }));
  };
  /** Opens a thinking or text block; the JSON of its deltas up to the text is made once. */
  const openBlock = (
    controller: TransformStreamDefaultController<SseMessage>,
    kind: OpenBlock["kind"],
  ): OpenBlock => {
    const index = startBlock(
      controller,
      kind === "thinking"
        ? { type: "thinking", thinking: "", signature: "" }
        : { type: "text", text: "" },
    );
    const delta = kind === "thinking" ? `"thinking_delta","thinking"` : `"text_delta","text"`;
    return {
      kind,
      index,
      deltaHead: `{"type":"content_block_delta","index":${index},"delta":{"type":${delta}:`,
    };
  };
  const streamText = (
    controller: TransformStreamDefaultController<SseMessage>,
    kind: OpenBlock["kind"],
    text: string,
  ) => {
    if (text === "") return;
    if (open?.kind !== kind) open = openBlock(controller, kind);
    // The hot path, one delta per upstream text event, is serialized by hand.
    controller.enqueue({
      event: "content_block_delta",
      data: `${open.deltaHead}${JSON.stringify(text)}}}`,
    });
  };
  const fail = (controller: TransformStreamDefaultController<SseMessage>, err: GatewayError) => {
    finished = true;
    stopTimer();
    controller.enqueue(sse("error", anthropicErrorBody(err)));
  };
  return {
    start(controller) {
      controller.enqueue(sse("message_start", {
        type: "message_start",
        message: {
          id: ctx.id,
          type: "message",
          role: "assistant",
          content: [],
          model: ctx.model,
          stop_reason: null,
          stop_sequence: null,
          stop_details: null,
          usage: toAnthropicUsage({ inputTokens: ctx.inputTokens, outputTokens: 0 }),
        },
      }));
      controller.enqueue(sse("ping", { type: "ping" }));
      keepAlive = new KeepAlive(ctx.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS, () => {
        if (!finished) controller.enqueue(sse("ping", { type: "ping" }));
      });
    },
    transform(event, controller) {
      keepAlive?.touch();
      if (finished) return;
      switch (event.type) {
        case "reasoning":
          streamText(controller, "thinking", event.text);
          break;
        case "text":
          streamText(controller, "text", event.text);
          break;
        case "reasoning_signature":
          // Kiro's signature ends its reasoning; with display "omitted" the text may be empty.
          if (open?.kind !== "thinking") open = openBlock(controller, "thinking");
          closeOpen(controller, event.signature);
          break;
        case "redacted_reasoning": {
          const index = startBlock(controller, { type: "redacted_thinking", data: event.data });
          controller.enqueue(sse("content_block_stop", { type: "content_block_stop", index }));
          break;
        }
        case "tool_call": {
          const index = startBlock(controller, {
            type: "tool_use",
            id: event.id,
            name: event.name,
            input: {},
          });
          delta(controller, index, {
            type: "input_json_delta",
            partial_json: event.arguments.trim() === "" ? "{}" : event.arguments,
          });
          controller.enqueue(sse("content_block_stop", { type: "content_block_stop", index }));
          break;
        }
        case "web_search_call": {
          const index = startBlock(controller, {
            type: "server_tool_use",
            id: event.id,
            name: "web_search",
            input: {},
          });
          delta(controller, index, {
            type: "input_json_delta",
            partial_json: JSON.stringify({ query: event.query }),
          });
          controller.enqueue(sse("content_block_stop", { type: "content_block_stop", index }));
          break;
        }
        case "web_search_result": {
          const index = startBlock(controller, {
            type: "web_search_tool_result",
            tool_use_id: event.id,
            content: toAnthropicSearchContent(event.results, event.error),
          });
          controller.enqueue(sse("content_block_stop", { type: "content_block_stop", index }));
          break;
        }
        case "end":
          finished = true;
          stopTimer();
          closeOpen(controller);
          controller.enqueue(sse("message_delta", {
            type: "message_delta",
            delta: { stop_reason: event.stopReason, stop_sequence: null, stop_details: null },
            usage: toAnthropicUsage(event.usage),
          }));
          controller.enqueue(sse("message_stop", { type: "message_stop" }));
          break;
        case "error":
          fail(controller, event.error);
          break;
      }
    },
    flush(controller) {
      stopTimer();
      if (!finished) fail(controller, replyEndedEarly());
    },
    cancel() {
      stopTimer();
    },
  };
}

/**
 * Renders a reply's ChatEvents as Anthropic SSE messages. The ping timer starts with the
 * stream and stops at its end, on an error event, or when either side is cancelled.
 */
export class AnthropicSseStream extends TransformStream<ChatEvent, SseMessage> {
  constructor(ctx: AnthropicStreamContext) {
    super(anthropicEvents(ctx));
  }
}

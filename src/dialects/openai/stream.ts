/**
 * ChatEvents to OpenAI `chat.completion.chunk` SSE messages (spec §7.4 with its fidelity
 * recommendations): a role chunk first, content and reasoning deltas, each tool call as a
 * header chunk plus one arguments chunk, one finish chunk, optional usage, then `[DONE]`.
 *
 * Usage: with `stream_options.include_usage` it comes in its own chunk with `choices: []`, as
 * OpenAI sends it; without, it rides on the finish chunk, as the reference gateway does, so
 * clients that never ask still see counts (the official SDK accepts usage on any chunk).
 */
import { type ChatEvent, replyEndedEarly } from "../../core/chat.ts";
import type { SseMessage } from "../../core/sse.ts";
import { GatewayError } from "../../errors.ts";
import { openAiErrorBody } from "./errors.ts";
import {
  type CompletionContext,
  type OpenAiFinishReason,
  type OpenAiUsage,
  toFinishReason,
  toOpenAiUsage,
} from "./response.ts";

/** What an OpenAiChunkStream needs to know about its reply. */
export interface OpenAiChunkContext extends CompletionContext {
  /** `stream_options.include_usage` as the client sent it. */
  includeUsage: boolean;
}

const DONE: SseMessage = { data: "[DONE]" };

/** Renders a reply's ChatEvents as OpenAI chunks (the logic of OpenAiChunkStream). */
export function openAiChunks(context: OpenAiChunkContext): Transformer<ChatEvent, SseMessage> {
  const { id, created, model, includeUsage } = context;
  let toolCallCount = 0;
  let finished = false;
  /** Whether text was sent, and whether a web search ran since: the next text is a new paragraph. */
  let sentText = false;
  let searchedSince = false;

  // The fields every chunk shares are serialized once; key order matches OpenAI's.
  const head = `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${
    JSON.stringify(created)
  },"model":${JSON.stringify(model)},"choices":`;
  const chunk = (
    delta: Record<string, unknown>,
    finishReason: OpenAiFinishReason | null = null,
    usage?: OpenAiUsage,
  ): SseMessage => ({
    data: `${head}[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${
      JSON.stringify(finishReason)
    }}]${usage === undefined ? "" : `,"usage":${JSON.stringify(usage)}`}}`,
  });
  // The hot path, one chunk per text delta, is serialized by hand: only the text is escaped.
  const contentHead = `${head}[{"index":0,"delta":{"content":`;
  const contentTail = `},"logprobs":null,"finish_reason":null}]}`;
  const contentChunk = (text: string): SseMessage => ({
    data: `${contentHead}${JSON.stringify(text)}${contentTail}`,
  });
  const usageChunk = (usage: OpenAiUsage): SseMessage => ({
    data: `${head}[],"usage":${JSON.stringify(usage)}}`,
  });
  const fail = (
    controller: TransformStreamDefaultController<SseMessage>,
    error: GatewayError,
  ) => {
    controller.enqueue({ data: JSON.stringify(openAiErrorBody(error)) });
    controller.enqueue(DONE);
    finished = true;
  };

  return {
    start(controller) {
      controller.enqueue(chunk({ role: "assistant", content: "" }));
    },
    transform(event, controller) {
      if (finished) return;
      switch (event.type) {
        case "text": {
          if (event.text === "") break;
          const text = sentText && searchedSince ? `\n\n${event.text}` : event.text;
          controller.enqueue(contentChunk(text));
          sentText = true;
          searchedSince = false;
          break;
        }
        case "web_search_call":
        case "web_search_result":
          // Chat completions have no place for searches: only the answer that used them shows.
          searchedSince = true;
          break;
        case "reasoning":
          if (event.text !== "") controller.enqueue(chunk({ reasoning_content: event.text }));
          break;
        case "tool_call": {
          const index = toolCallCount++;
          controller.enqueue(chunk({
            tool_calls: [{
              index,
              id: event.id,
              type: "function",
              function: { name: event.name, arguments: "" },
            }],
          }));
          controller.enqueue(
            chunk({ tool_calls: [{ index, function: { arguments: event.arguments } }] }),
          );
          break;
        }
        case "end": {
          const usage = toOpenAiUsage(event.usage);
          const reason = toFinishReason(event.stopReason, toolCallCount > 0);
          controller.enqueue(chunk({}, reason, includeUsage ? undefined : usage));
          if (includeUsage) controller.enqueue(usageChunk(usage));
          controller.enqueue(DONE);
          finished = true;
          break;
        }
        case "error":
          fail(controller, event.error);
          break;
      }
    },
    flush(controller) {
      if (finished) return;
      fail(controller, replyEndedEarly());
    },
  };
}

/**
 * Renders one reply's ChatEvents as OpenAI chunks. Ends with `data: [DONE]` after the `end`
 * event, or after a `data: {"error":…}` chunk for an `error` event (or input that stops
 * without `end`); events after either are ignored.
 */
export class OpenAiChunkStream extends TransformStream<ChatEvent, SseMessage> {
  constructor(context: OpenAiChunkContext) {
    super(openAiChunks(context));
  }
}

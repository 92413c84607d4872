/** OpenAI reply JSON: `chat.completion` objects, usage, finish reasons and the model list. */
import type { ModelInfo } from "../../core/backend.ts";
import type { StopReason, Usage } from "../../core/chat.ts";
import type { CollectedReply } from "../../core/collect.ts";

/** Why an OpenAI choice finished. */
export type OpenAiFinishReason = "stop" | "tool_calls" | "length";

/** Usage in OpenAI's shape; `credits_used` is Kiro's metering, when known. */
export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Cached input tokens: 0 unless Kiro reported cache reads. */
  prompt_tokens_details: { cached_tokens: number };
  /** Reasoning tokens, included in completion_tokens. */
  completion_tokens_details: { reasoning_tokens: number };
  credits_used?: number;
}

/** What every completion and chunk of one reply shares. */
export interface CompletionContext {
  /** `chatcmpl-` + 32 hex. */
  id: string;
  /** Unix seconds. */
  created: number;
  /** The model string exactly as the client sent it. */
  model: string;
}

/**
 * Maps a stop reason to `finish_reason`: a cut-off reply is `length`; otherwise a reply with
 * tool calls is `tool_calls`, so clients run them even if the upstream said end_turn.
 */
export function toFinishReason(stopReason: StopReason, hasToolCalls: boolean): OpenAiFinishReason {
  if (stopReason === "max_tokens") return "length";
  return stopReason === "tool_use" || hasToolCalls ? "tool_calls" : "stop";
}

/** Renders neutral usage as OpenAI usage. */
export function toOpenAiUsage(usage: Usage): OpenAiUsage {
  const result: OpenAiUsage = {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cacheReadInputTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
  };
  if (usage.credits !== undefined) result.credits_used = usage.credits;
  return result;
}

/** Builds the non-streaming `chat.completion` object for a collected reply. */
export function buildChatCompletion(
  reply: CollectedReply,
  context: CompletionContext,
): Record<string, unknown> {
  const message: Record<string, unknown> = { role: "assistant", content: visibleText(reply) };
  if (reply.reasoning !== "") message.reasoning_content = reply.reasoning;
  if (reply.toolCalls.length > 0) {
    message.tool_calls = reply.toolCalls.map((call) => ({
      id: call.id,
      type: "function",
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  return {
    id: context.id,
    object: "chat.completion",
    created: context.created,
    model: context.model,
    choices: [{
      index: 0,
      message,
      logprobs: null,
      finish_reason: toFinishReason(reply.stopReason, reply.toolCalls.length > 0),
    }],
    usage: toOpenAiUsage(reply.usage),
  };
}

/** The reply's text; the texts of rounds separated by web searches become paragraphs. */
function visibleText(reply: CollectedReply): string {
  if (reply.segments.length === 0) return reply.text;
  return reply.segments.flatMap((segment) =>
    segment.type === "text" && segment.text !== "" ? [segment.text] : []
  ).join("\n\n");
}

/** Builds the `GET /v1/models` list; `created` is Unix seconds. */
export function buildModelList(models: ModelInfo[], created: number): Record<string, unknown> {
  return {
    object: "list",
    data: models.map((model) => ({
      id: model.id,
      object: "model",
      created,
      owned_by: "anthropic",
      display_name: model.displayName,
      context_window: model.contextWindow,
      ...(model.maxOutputTokens === undefined ? {} : { max_output_tokens: model.maxOutputTokens }),
    })),
  };
}

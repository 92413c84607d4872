/** A collected reply as an Anthropic Messages response body (spec §7.5, non-streaming). */
import type { CollectedReply } from "../../core/collect.ts";
import {
  type AnthropicSearchContent,
  type AnthropicUsage,
  toAnthropicSearchContent,
  toAnthropicUsage,
} from "./stream.ts";

/** One content block of a reply message. */
export type AnthropicReplyBlock =
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "redacted_thinking"; data: string }
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
  | { type: "server_tool_use"; id: string; name: "web_search"; input: { query: string } }
  | { type: "web_search_tool_result"; tool_use_id: string; content: AnthropicSearchContent };

/** The Anthropic message object of a non-streaming reply. */
export interface AnthropicMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicReplyBlock[];
  stop_reason: CollectedReply["stopReason"];
  stop_sequence: null;
  stop_details: null;
  usage: AnthropicUsage;
}

/** What the message needs beyond the reply. */
export interface AnthropicMessageContext {
  /** The message id (`msg_` + 24 hex). */
  id: string;
  /** The model as the client sent it. */
  model: string;
  /** The placeholder signature of tag-derived thinking (`sig_` + 32 hex); see stream.ts. */
  signature: string;
}

/**
 * Builds the message: thinking and redacted_thinking blocks (if any), text (if any), then
 * tool_use blocks in order. Thinking keeps Kiro's signature; tag-derived thinking gets the
 * placeholder. With web searches, text and the searches come in the order they happened.
 */
export function buildAnthropicMessage(
  reply: CollectedReply,
  ctx: AnthropicMessageContext,
): AnthropicMessage {
  const content: AnthropicReplyBlock[] = [];
  for (const block of reply.reasoningBlocks) {
    if (block.type === "redacted") {
      content.push({ type: "redacted_thinking", data: block.data });
    } else if (block.text !== "" || block.signature !== undefined) {
      const signature = block.signature ?? ctx.signature;
      content.push({ type: "thinking", thinking: block.text, signature });
    }
  }
  if (reply.segments.length === 0) {
    if (reply.text !== "") content.push({ type: "text", text: reply.text });
  }
  for (const segment of reply.segments) {
    if (segment.type === "text") {
      if (segment.text !== "") content.push({ type: "text", text: segment.text });
      continue;
    }
    const { id, query, results, error } = segment.search;
    content.push({ type: "server_tool_use", id, name: "web_search", input: { query } });
    content.push({
      type: "web_search_tool_result",
      tool_use_id: id,
      content: toAnthropicSearchContent(results, error),
    });
  }
  for (const call of reply.toolCalls) {
    content.push({
      type: "tool_use",
      id: call.id,
      name: call.name,
      input: parseInput(call.arguments),
    });
  }
  return {
    id: ctx.id,
    type: "message",
    role: "assistant",
    model: ctx.model,
    content,
    stop_reason: reply.stopReason,
    stop_sequence: null,
    stop_details: null,
    usage: toAnthropicUsage(reply.usage),
  };
}

/** Parses tool arguments; the backend sends object text, so anything else becomes `{}`. */
function parseInput(args: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(args);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Unparsable arguments cannot reach here from the backend; `{}` keeps the reply valid.
  }
  return {};
}

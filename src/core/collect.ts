/** Folds a reply's ChatEvents into one value, for non-streaming responses. */
import { GatewayError } from "../errors.ts";
import type { ChatEvent, StopReason, Usage } from "./chat.ts";

/** A tool call of a collected reply, its arguments as JSON object text. */
export interface CollectedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/**
 * One reasoning block of a reply: text with the signature that ended it (none for reasoning
 * split out of `<thinking>` tags), or redacted reasoning.
 */
export type CollectedReasoning =
  | { type: "text"; text: string; signature?: string }
  | { type: "redacted"; data: string };

/** A whole reply: all text and reasoning joined, tool calls in order, how it stopped. */
export interface CollectedReply {
  text: string;
  reasoning: string;
  /** The reasoning as blocks, in order (`reasoning` is their texts joined). */
  reasoningBlocks: CollectedReasoning[];
  toolCalls: CollectedToolCall[];
  stopReason: StopReason;
  usage: Usage;
}

/**
 * Reads `events` to the end and folds them into one reply. Throws the GatewayError of an
 * `error` event (the rest of the stream is cancelled), and an `internal` GatewayError when the
 * stream ends without an `end` event.
 */
export async function collectReply(events: ReadableStream<ChatEvent>): Promise<CollectedReply> {
  const text: string[] = [];
  const reasoning: string[] = [];
  const reasoningBlocks: CollectedReasoning[] = [];
  /** The text block still collecting deltas (a signature or redacted block closes it). */
  let open: { type: "text"; text: string; signature?: string } | undefined;
  const toolCalls: CollectedToolCall[] = [];
  let end: Extract<ChatEvent, { type: "end" }> | undefined;
  for await (const event of events) {
    switch (event.type) {
      case "text":
        text.push(event.text);
        open = undefined;
        break;
      case "reasoning":
        reasoning.push(event.text);
        if (!open) {
          open = { type: "text", text: "" };
          reasoningBlocks.push(open);
        }
        open.text += event.text;
        break;
      case "reasoning_signature":
        if (!open) reasoningBlocks.push(open = { type: "text", text: "" });
        open.signature = event.signature;
        open = undefined;
        break;
      case "redacted_reasoning":
        open = undefined;
        reasoningBlocks.push({ type: "redacted", data: event.data });
        break;
      case "tool_call":
        open = undefined;
        toolCalls.push({ id: event.id, name: event.name, arguments: event.arguments });
        break;
      case "end":
        end = event;
        break;
      case "error":
        throw event.error;
    }
  }
  if (!end) {
    throw new GatewayError("internal", "Cannot collect reply: it ended without an end event");
  }
  return {
    text: text.join(""),
    reasoning: reasoning.join(""),
    reasoningBlocks,
    toolCalls,
    stopReason: end.stopReason,
    usage: end.usage,
  };
}

/** Folds a reply's ChatEvents into one value, for non-streaming responses. */
import { GatewayError } from "../errors.ts";
import type { ChatEvent, StopReason, Usage } from "./chat.ts";

/** A tool call of a collected reply, its arguments as JSON object text. */
export interface CollectedToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** A whole reply: all text and reasoning joined, tool calls in order, how it stopped. */
export interface CollectedReply {
  text: string;
  reasoning: string;
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
  const toolCalls: CollectedToolCall[] = [];
  let end: Extract<ChatEvent, { type: "end" }> | undefined;
  for await (const event of events) {
    switch (event.type) {
      case "text":
        text.push(event.text);
        break;
      case "reasoning":
        reasoning.push(event.text);
        break;
      case "tool_call":
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
    toolCalls,
    stopReason: end.stopReason,
    usage: end.usage,
  };
}

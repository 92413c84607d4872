/** Folds a reply's ChatEvents into one value, for non-streaming responses. */
import {
  type ChatEvent,
  replyEndedEarly,
  type StopReason,
  type Usage,
  type WebSearchHit,
} from "./chat.ts";
import { TextParts } from "./text_parts.ts";

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
/** A web search the gateway ran, with its outcome. */
export interface CollectedWebSearch {
  id: string;
  query: string;
  results: WebSearchHit[];
  error?: Extract<ChatEvent, { type: "web_search_result" }>["error"];
}

/** Text and web searches in the order they came (a reply with searches interleaves them). */
export type CollectedSegment =
  | { type: "text"; text: string }
  | { type: "web_search"; search: CollectedWebSearch };

/** A whole reply: all text and reasoning joined, tool calls in order, how it stopped. */
export interface CollectedReply {
  text: string;
  /** Only filled when the gateway searched the web: text and searches in order. */
  segments: CollectedSegment[];
  reasoning: string;
  /** The reasoning as blocks, in order (`reasoning` is their texts joined). */
  reasoningBlocks: CollectedReasoning[];
  toolCalls: CollectedToolCall[];
  stopReason: StopReason;
  usage: Usage;
}

/**
 * Reads `events` to the end and folds them into one reply. Throws the GatewayError of an
 * `error` event (the rest of the stream is cancelled), and an `upstream_protocol` GatewayError when the
 * stream ends without an `end` event.
 */
export async function collectReply(events: ReadableStream<ChatEvent>): Promise<CollectedReply> {
  const text = new TextParts();
  const reasoning = new TextParts();
  const reasoningBlocks: CollectedReasoning[] = [];
  /** The text block still collecting deltas (a signature or redacted block closes it). */
  let open: { type: "text"; text: string; signature?: string } | undefined;
  const toolCalls: CollectedToolCall[] = [];
  const segments: Array<{ type: "text"; parts: string[] } | CollectedSegment> = [];
  const searches = new Map<string, CollectedWebSearch>();
  let end: Extract<ChatEvent, { type: "end" }> | undefined;
  for await (const event of events) {
    switch (event.type) {
      case "text": {
        text.push(event.text);
        open = undefined;
        const last = segments.at(-1);
        if (last?.type === "text" && "parts" in last) last.parts.push(event.text);
        else segments.push({ type: "text", parts: [event.text] });
        break;
      }
      case "web_search_call": {
        const search: CollectedWebSearch = { id: event.id, query: event.query, results: [] };
        searches.set(event.id, search);
        segments.push({ type: "web_search", search });
        break;
      }
      case "web_search_result": {
        const search = searches.get(event.id);
        if (search) {
          search.results = event.results;
          if (event.error) search.error = event.error;
        }
        break;
      }
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
    throw replyEndedEarly();
  }
  return {
    text: text.join(),
    segments: searches.size === 0
      ? []
      : segments.map((segment) =>
        segment.type === "text" && "parts" in segment
          ? { type: "text" as const, text: segment.parts.join("") }
          : segment as CollectedSegment
      ),
    reasoning: reasoning.join(),
    reasoningBlocks,
    toolCalls,
    stopReason: end.stopReason,
    usage: end.usage,
  };
}

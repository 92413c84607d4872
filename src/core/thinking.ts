/**
 * Splits a `<thinking>` block at the start of the answer out of the text deltas (spec §8.4),
 * whatever the chunk boundaries: tag fragments are held back until they are decided, so no
 * piece of a tag the parser consumes ever reaches the client.
 */
import type { ReasoningHandling } from "../config.ts";
import type { ChatEvent } from "./chat.ts";

/** The tags that open a thinking block, in the order they are tried. */
export const THINKING_OPEN_TAGS: readonly string[] = [
  "<thinking>",
  "<think>",
  "<reasoning>",
  "<thought>",
];

/** Characters held back inside a block so a close tag split across deltas is still found. */
export const THINKING_HOLD_BACK_CHARS = 2 *
  Math.max(...THINKING_OPEN_TAGS.map((tag) => tag.length));

/** Options of a ThinkingSplitStream. */
export interface ThinkingSplitOptions {
  /** Whether fake reasoning is on; when off the stream passes everything through. */
  enabled: boolean;
  handling: ReasoningHandling;
  /** The most leading whitespace held while waiting for an open tag. */
  initialBufferSize: number;
  /**
   * Counts the tokens of the reasoning split out, for the `end` event's `reasoningTokens`
   * (which never exceeds its `outputTokens`); without it the usage passes unchanged.
   */
  countTokens?: (text: string) => number;
}

type ParserState = "pre_content" | "in_thinking" | "after_thinking" | "streaming";

/** Splits thinking out of the text (the logic of ThinkingSplitStream). */
export function thinkingSplit(options: ThinkingSplitOptions): Transformer<ChatEvent, ChatEvent> {
  if (!options.enabled) return {};
  const { handling, initialBufferSize } = options;
  let state: ParserState = "pre_content";
  let initial = "";
  let thinking = "";
  let openTag = "";
  let blockStarted = false;
  const reasoning: string[] = [];

  const emitThinking = (
    controller: TransformStreamDefaultController<ChatEvent>,
    piece: string,
    last: boolean,
  ) => {
    if (piece.length === 0 && !(last && blockStarted)) return;
    const first = !blockStarted;
    blockStarted = true;
    if (handling === "remove") return;
    if (handling === "pass") {
      const closeTag = last ? `</${openTag.slice(1)}` : "";
      controller.enqueue({
        type: "text",
        text: `${first ? openTag : ""}${piece}${closeTag}`,
      });
    } else if (piece.length > 0) {
      const type = handling === "strip_tags" ? "text" : "reasoning";
      if (type === "reasoning") reasoning.push(piece);
      controller.enqueue({ type, text: piece });
    }
  };

  const emitText = (controller: TransformStreamDefaultController<ChatEvent>, text: string) => {
    if (text.length > 0) controller.enqueue({ type: "text", text });
  };

  const feedAfterThinking = (
    controller: TransformStreamDefaultController<ChatEvent>,
    text: string,
  ) => {
    const rest = text.trimStart();
    if (rest.length === 0) return;
    state = "streaming";
    emitText(controller, rest);
  };

  const feedThinking = (controller: TransformStreamDefaultController<ChatEvent>) => {
    const closeTag = `</${openTag.slice(1)}`;
    const at = thinking.indexOf(closeTag);
    if (at >= 0) {
      const rest = thinking.slice(at + closeTag.length);
      emitThinking(controller, thinking.slice(0, at), true);
      thinking = "";
      state = "after_thinking";
      feedAfterThinking(controller, rest);
      return;
    }
    if (thinking.length <= THINKING_HOLD_BACK_CHARS) return;
    const cut = safeCut(thinking, thinking.length - THINKING_HOLD_BACK_CHARS);
    emitThinking(controller, thinking.slice(0, cut), false);
    thinking = thinking.slice(cut);
  };

  const feedInitial = (controller: TransformStreamDefaultController<ChatEvent>) => {
    const content = initial.trimStart();
    if (initial.length - content.length > initialBufferSize) {
      startStreaming(controller);
      return;
    }
    const tag = THINKING_OPEN_TAGS.find((t) => content.startsWith(t));
    if (tag !== undefined) {
      state = "in_thinking";
      openTag = tag;
      thinking = content.slice(tag.length);
      initial = "";
      feedThinking(controller);
      return;
    }
    if (THINKING_OPEN_TAGS.some((t) => t.startsWith(content))) return; // may still be a tag
    startStreaming(controller);
  };

  const startStreaming = (controller: TransformStreamDefaultController<ChatEvent>) => {
    state = "streaming";
    emitText(controller, initial);
    initial = "";
  };

  /** Settles whatever is buffered: undecided text is text, an open block is closed. */
  const flushBuffers = (controller: TransformStreamDefaultController<ChatEvent>) => {
    if (state === "pre_content" && initial.length > 0) startStreaming(controller);
    if (state === "in_thinking") {
      emitThinking(controller, thinking, true);
      thinking = "";
      state = "streaming";
    }
  };

  return {
    transform(event, controller) {
      if (event.type !== "text") {
        flushBuffers(controller);
        if (event.type === "end" && reasoning.length > 0 && options.countTokens) {
          const counted = options.countTokens(reasoning.join(""));
          const reasoningTokens = Math.min(
            (event.usage.reasoningTokens ?? 0) + counted,
            event.usage.outputTokens,
          );
          controller.enqueue({ ...event, usage: { ...event.usage, reasoningTokens } });
          return;
        }
        controller.enqueue(event);
        return;
      }
      switch (state) {
        case "streaming":
          emitText(controller, event.text);
          return;
        case "after_thinking":
          feedAfterThinking(controller, event.text);
          return;
        case "in_thinking":
          thinking += event.text;
          feedThinking(controller);
          return;
        case "pre_content":
          initial += event.text;
          feedInitial(controller);
          return;
      }
    },
    flush(controller) {
      flushBuffers(controller);
    },
  };
}

/**
 * Moves a thinking block at the very start of the text (after whitespace) to the channel the
 * handling mode names; later tags are plain text. The decisions depend only on the text, never
 * on how it was split, so the output per channel is the same for any chunking. Buffered text
 * is flushed before any non-text event, so event order is kept; a block still open at that
 * point or at the end of input is closed there.
 */
export class ThinkingSplitStream extends TransformStream<ChatEvent, ChatEvent> {
  constructor(options: ThinkingSplitOptions) {
    super(thinkingSplit(options));
  }
}

/** Moves a cut left by one when it would split a surrogate pair. */
function safeCut(text: string, cut: number): number {
  const code = text.charCodeAt(cut - 1);
  return code >= 0xd800 && code <= 0xdbff ? cut - 1 : cut;
}

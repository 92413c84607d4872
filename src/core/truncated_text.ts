/**
 * Remembers the visible text of a reply that ended with `max_tokens`, after the thinking split,
 * so that the text a client sends back next turn matches what was remembered (spec §9.1).
 */
import type { ChatEvent } from "./chat.ts";

/** Remembers the answer text of cut-off replies (the logic of TruncatedTextStream). */
export function truncatedText(remember: (text: string) => void): Transformer<ChatEvent, ChatEvent> {
  const pieces: string[] = [];
  return {
    transform(event, controller) {
      if (event.type === "text") pieces.push(event.text);
      if (event.type === "end" && event.stopReason === "max_tokens" && pieces.length > 0) {
        remember(pieces.join(""));
      }
      controller.enqueue(event);
    },
  };
}

/** Passes events through and calls `remember` with the answer text of a cut-off reply. */
export class TruncatedTextStream extends TransformStream<ChatEvent, ChatEvent> {
  constructor(remember: (text: string) => void) {
    super(truncatedText(remember));
  }
}

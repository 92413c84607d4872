/**
 * Unwraps a JSON answer the model put in a Markdown code fence. A client that asked for
 * structured output parses the answer as JSON, and models often write "```json\n{…}\n```"
 * anyway, so for such requests the fence lines are cut out of the text stream, across any chunk
 * boundaries, and prose after the closing fence is dropped. An answer that does not open with
 * a fence passes through untouched.
 */
import type { ChatEvent } from "./chat.ts";

/** How far into the answer the opening fence line must end (```` ```json ```` and spaces). */
const MAX_OPENING_LINE = 16;
const OPENING = /^```[ \t]*(json5?|JSON)?[ \t]*\r?\n/;
const CLOSING = /\r?\n[ \t]*```/;
/** A tail that may be the start of a closing fence, held back until the next piece. */
const MAYBE_CLOSING = /\r?\n?[ \t]*`{0,2}$/;

/** What the unwrapping saw, for the debug log. */
export interface JsonFenceReport {
  /** Characters of prose after the closing fence that were dropped. */
  droppedChars: number;
}

/**
 * The unwrapping step: text events lose an opening ```` ```json ```` line, the closing fence
 * and anything after it; other events pass, with held-back text sent before them. `onUnwrap`
 * is called once when a fence was removed.
 */
export function jsonFence(
  onUnwrap: (report: JsonFenceReport) => void = () => {},
): Transformer<ChatEvent, ChatEvent> {
  let state: "start" | "plain" | "fenced" | "closed" = "start";
  let held = "";
  let dropped = 0;

  function emit(controller: TransformStreamDefaultController<ChatEvent>, text: string): void {
    if (text !== "") controller.enqueue({ type: "text", text });
  }

  function take(controller: TransformStreamDefaultController<ChatEvent>, text: string): void {
    if (state === "closed") {
      dropped += text.length;
      return;
    }
    if (state === "plain") return emit(controller, text);
    held += text;
    if (state === "start") {
      const lead = held.trimStart();
      if (lead === "") return;
      if (!lead.startsWith("```".slice(0, Math.min(3, lead.length)))) return plain(controller);
      const opening = OPENING.exec(lead);
      if (!opening) {
        if (lead.includes("\n") || lead.length > MAX_OPENING_LINE) plain(controller);
        return;
      }
      state = "fenced";
      held = lead.slice(opening[0].length);
    }
    const closing = CLOSING.exec(held);
    if (closing) {
      emit(controller, held.slice(0, closing.index));
      dropped += held.length - closing.index - closing[0].length;
      held = "";
      state = "closed";
      return;
    }
    const keep = MAYBE_CLOSING.exec(held)?.index ?? held.length;
    emit(controller, held.slice(0, keep));
    held = held.slice(keep);
  }

  function plain(controller: TransformStreamDefaultController<ChatEvent>): void {
    state = "plain";
    emit(controller, held);
    held = "";
  }

  function finish(controller: TransformStreamDefaultController<ChatEvent>): void {
    if (state === "fenced" || state === "closed") {
      // An answer cut off inside the fence keeps its text; a partial closing fence goes.
      if (!/^\r?\n?[ \t]*`{0,2}$/.test(held)) emit(controller, held);
      onUnwrap({ droppedChars: dropped });
    } else emit(controller, held);
    held = "";
    state = "closed";
  }

  return {
    transform(event, controller) {
      if (event.type === "text") return take(controller, event.text);
      // Text never waits behind a later event: an undecided start is plain text after all.
      if (state === "start" && held !== "") plain(controller);
      if (event.type === "end" || event.type === "error") finish(controller);
      controller.enqueue(event);
    },
    flush(controller) {
      if (state !== "closed") finish(controller);
    },
  };
}

/** Unwraps fenced JSON answers (the logic of jsonFence as a stream). */
export class JsonFenceStream extends TransformStream<ChatEvent, ChatEvent> {
  constructor(onUnwrap?: (report: JsonFenceReport) => void) {
    super(jsonFence(onUnwrap));
  }
}

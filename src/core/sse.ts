/** Server-sent events on the wire: messages in, UTF-8 bytes out. */

/** One server-sent event: an optional event name and its data text. */
export interface SseMessage {
  event?: string;
  data: string;
}

const LINE_BREAK = /\r\n|\r|\n/;

/** Encodes SSE messages as UTF-8 bytes (the logic of SseEncoderStream). */
export function sseEncoder(): Transformer<SseMessage, Uint8Array> {
  const encoder = new TextEncoder();
  return {
    transform(message, controller) {
      controller.enqueue(encoder.encode(formatSseMessage(message)));
    },
  };
}

/**
 * Encodes messages as `event: x\ndata: y\n\n`, one `data:` line per line of data, so data
 * holding line breaks survives; an event name holding a line break is a bug and throws.
 */
export class SseEncoderStream extends TransformStream<SseMessage, Uint8Array> {
  constructor() {
    super(sseEncoder());
  }
}

/** Formats one message as SSE text, ending with the blank line that dispatches it. */
function formatSseMessage(message: SseMessage): string {
  let head = "";
  if (message.event !== undefined) {
    if (LINE_BREAK.test(message.event)) {
      throw new Error(`Cannot encode SSE event name: ${JSON.stringify(message.event)}`);
    }
    head = `event: ${message.event}\n`;
  }
  // JSON text never holds a raw line break, so nearly every message is one data line.
  if (!LINE_BREAK.test(message.data)) return `${head}data: ${message.data}\n\n`;
  const lines = message.data.split(LINE_BREAK).map((line) => `data: ${line}\n`);
  return `${head}${lines.join("")}\n`;
}

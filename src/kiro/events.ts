/**
 * Turns decoded event-stream frames into typed Kiro events (spec §4.2–4.3). Exception and
 * error frames become GatewayErrors that end the stream after the events before them.
 */
import { type ErrorKind, GatewayError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type Frame, headerString } from "./eventstream.ts";

/** One decoded Kiro event (spec §4.3). */
export type KiroEvent =
  | { type: "text"; text: string }
  | { type: "tool_start"; toolUseId: string; name: string }
  | { type: "tool_input"; toolUseId: string; name: string; input: string }
  | { type: "tool_stop"; toolUseId: string; name: string }
  | {
    type: "metering";
    credits: number;
    cacheReadInputTokens?: number;
    cacheCreationInputTokens?: number;
  }
  | { type: "context_usage"; percentage: number }
  | { type: "reasoning"; text: string; signature?: string; redacted?: string }
  | {
    type: "metadata";
    stopReason?: string;
    /** All input tokens, or (newer payloads) the sum of the three input counts below. */
    inputTokens?: number;
    uncachedInputTokens?: number;
    cacheReadInputTokens?: number;
    cacheWriteInputTokens?: number;
    outputTokens?: number;
    totalTokens?: number;
  };

/** Options of a KiroEventStream. */
export interface KiroEventStreamOptions {
  /** Receives debug lines for skipped events; defaults to a silent logger. */
  logger?: Logger;
}

type JsonObject = Record<string, unknown>;
/** Where events go: the step's controller itself, so no closure is made per frame. */
type Sink = Pick<TransformStreamDefaultController<KiroEvent>, "enqueue">;

const EXCEPTION_KINDS: Record<string, ErrorKind> = {
  ThrottlingException: "rate_limited",
  ServiceQuotaExceededException: "quota_exceeded",
  ValidationException: "invalid_request",
};

/** Event types Kiro sends that carry nothing the gateway uses (spec §4.3). */
const IGNORED_EVENTS = new Set(["followupPromptEvent", "codeReferenceEvent"]);

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Turns frames into typed Kiro events (the logic of KiroEventStream). */
export function kiroEvents(options: KiroEventStreamOptions = {}): Transformer<Frame, KiroEvent> {
  const logger = options.logger ?? silentLogger();
  // Tool names by toolUseId: a start is emitted only the first time an id is seen.
  const tools = new Map<string, string>();
  return {
    transform(frame, controller) {
      const messageType = headerString(frame, ":message-type");
      if (messageType === "event") {
        const eventType = headerString(frame, ":event-type") ?? "";
        toEvents(eventType, frame.payload, tools, controller, logger);
      } else if (messageType === "exception") {
        throw exceptionError(frame);
      } else if (messageType === "error") {
        const code = headerString(frame, ":error-code") ?? "unknown";
        const message = headerString(frame, ":error-message") ?? "no message";
        throw new GatewayError("upstream", `Kiro sent error "${code}": ${message}`);
      } else {
        logger.debug("Skipped a Kiro frame with an unknown message type", {
          messageType: messageType ?? null,
        });
      }
    },
  };
}

/**
 * Maps frames to KiroEvents. Unknown event and message types are skipped with a debug log;
 * a known event with a malformed payload errors the stream with `upstream_protocol`, and an
 * exception or error frame errors it with the kind its type maps to.
 *
 * Repeated identical text deltas are kept: the reference drops them (§4.7) only because its
 * text scanner can see one payload twice, whereas every frame here is decoded exactly once
 * and CRC-checked, so a repeat is real content such as two "\n\n" deltas in a row.
 */
export class KiroEventStream extends TransformStream<Frame, KiroEvent> {
  constructor(options: KiroEventStreamOptions = {}) {
    super(kiroEvents(options));
  }
}

function toEvents(
  eventType: string,
  payload: Uint8Array,
  tools: Map<string, string>,
  sink: Sink,
  logger: Logger,
): void {
  switch (eventType) {
    case "assistantResponseEvent": {
      const plain = plainContent(payload);
      if (plain === undefined) return toText(parsePayload(eventType, payload), sink);
      if (plain !== "") sink.enqueue({ type: "text", text: plain });
      return;
    }
    case "toolUseEvent":
      return toToolEvents(parsePayload(eventType, payload), tools, sink);
    case "meteringEvent":
      return toMetering(parsePayload(eventType, payload), sink);
    case "contextUsageEvent": {
      const body = parsePayload(eventType, payload);
      const percentage = field(body, "contextUsagePercentage", "number", eventType, true);
      return sink.enqueue({ type: "context_usage", percentage });
    }
    case "reasoningContentEvent":
      return toReasoning(parsePayload(eventType, payload), sink, logger);
    case "metadataEvent":
      return toMetadata(parsePayload(eventType, payload), sink);
    default:
      if (!IGNORED_EVENTS.has(eventType)) {
        logger.debug("Skipped an unknown Kiro event", { eventType });
      }
  }
}

function toText(body: JsonObject, sink: Sink): void {
  if (body.followupPrompt) return;
  const text = field(body, "content", "string", "assistantResponseEvent");
  if (text) sink.enqueue({ type: "text", text });
}

function toToolEvents(body: JsonObject, tools: Map<string, string>, sink: Sink): void {
  const toolUseId = field(body, "toolUseId", "string", "toolUseEvent", true);
  const known = tools.get(toolUseId);
  const name = field(body, "name", "string", "toolUseEvent") ?? known;
  if (name === undefined) throw invalid("toolUseEvent", `"name" is missing for "${toolUseId}"`);
  // Read every field before emitting, so a bad payload emits nothing.
  const input = toolInputText(body.input);
  const stop = field(body, "stop", "boolean", "toolUseEvent");
  if (known === undefined) {
    tools.set(toolUseId, name);
    sink.enqueue({ type: "tool_start", toolUseId, name });
  }
  if (input) sink.enqueue({ type: "tool_input", toolUseId, name, input });
  if (stop) sink.enqueue({ type: "tool_stop", toolUseId, name });
}

/** Tool input arrives as a JSON text fragment, or in some captures as a whole object. */
function toolInputText(input: unknown): string {
  if (input === undefined || input === null) return "";
  if (typeof input === "string") return input;
  if (isObject(input)) return Object.keys(input).length > 0 ? JSON.stringify(input) : "";
  throw invalid("toolUseEvent", `"input" is neither a string nor an object`);
}

function toMetering(body: JsonObject, sink: Sink): void {
  const event: KiroEvent = {
    type: "metering",
    credits: field(body, "usage", "number", "meteringEvent", true),
  };
  const cacheRead = firstNumber(body, "cacheReadInputTokens", "cache_read_input_tokens");
  if (cacheRead !== undefined) event.cacheReadInputTokens = cacheRead;
  const cacheCreation = firstNumber(
    body,
    "cacheCreationInputTokens",
    "cache_creation_input_tokens",
  );
  if (cacheCreation !== undefined) event.cacheCreationInputTokens = cacheCreation;
  sink.enqueue(event);
}

/**
 * Reasoning pieces come flat (`{"text"}`, `{"signature"}`, `{"redactedContent"}`) or with text
 * and signature nested in `reasoningText` (spec §8.6); redacted content is bytes, which JSON
 * carries as base64 text (an array of byte values is turned into that too).
 */
function toReasoning(body: JsonObject, sink: Sink, logger: Logger): void {
  const eventType = "reasoningContentEvent";
  const nested = body.reasoningText;
  if (nested !== undefined && nested !== null && !isObject(nested)) {
    throw invalid(eventType, `"reasoningText" is not an object`);
  }
  const source = nested ?? body;
  const text = field(source, "text", "string", eventType);
  const signature = field(source, "signature", "string", eventType) ??
    field(body, "signature", "string", eventType);
  const redacted = redactedText(body.redactedContent ?? source.redactedContent);
  if (text === undefined && signature === undefined && redacted === undefined) {
    logger.debug("Skipped a Kiro reasoning event without text, signature or redacted content");
    return;
  }
  const event: KiroEvent = { type: "reasoning", text: text ?? "" };
  if (signature !== undefined) event.signature = signature;
  if (redacted !== undefined) event.redacted = redacted;
  sink.enqueue(event);
}

function redactedText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    let binary = "";
    for (const byte of value as number[]) binary += String.fromCharCode(byte);
    return btoa(binary);
  }
  throw invalid("reasoningContentEvent", `"redactedContent" is neither text nor bytes`);
}

function toMetadata(body: JsonObject, sink: Sink): void {
  const event: KiroEvent = { type: "metadata" };
  const stopReason = body.stopReason ?? body.stop_reason;
  if (typeof stopReason === "string") event.stopReason = stopReason;
  const usage = body.tokenUsage ?? body.token_usage;
  if (isObject(usage)) {
    const input = firstNumber(usage, "inputTokens", "input_tokens");
    if (input !== undefined) event.inputTokens = input;
    const uncached = firstNumber(usage, "uncachedInputTokens", "uncached_input_tokens");
    if (uncached !== undefined) event.uncachedInputTokens = uncached;
    const cacheRead = firstNumber(usage, "cacheReadInputTokens", "cache_read_input_tokens");
    if (cacheRead !== undefined) event.cacheReadInputTokens = cacheRead;
    const cacheWrite = firstNumber(usage, "cacheWriteInputTokens", "cache_write_input_tokens");
    if (cacheWrite !== undefined) event.cacheWriteInputTokens = cacheWrite;
    const output = firstNumber(usage, "outputTokens", "output_tokens");
    if (output !== undefined) event.outputTokens = output;
    const total = firstNumber(usage, "totalTokens", "total_tokens");
    if (total !== undefined) event.totalTokens = total;
  }
  if (Object.keys(event).length > 1) sink.enqueue(event);
}

function exceptionError(frame: Frame): GatewayError {
  const exceptionType = headerString(frame, ":exception-type") ?? "UnknownException";
  const kind = Object.hasOwn(EXCEPTION_KINDS, exceptionType)
    ? EXCEPTION_KINDS[exceptionType]!
    : "upstream";
  const text = new TextDecoder().decode(frame.payload);
  let message = text.trim();
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body)) {
      const found = body.message ?? body.Message;
      if (typeof found === "string") message = found;
    }
  } catch {
    // Exception payloads may be plain text; the raw text is the message then.
  }
  return new GatewayError(
    kind,
    `Kiro sent exception "${exceptionType}": ${message || "no message"}`,
  );
}

/** `{"content":"` as bytes: how nearly every text delta's payload starts. */
const CONTENT_PREFIX = new TextEncoder().encode('{"content":"');
/** Longest content read with String.fromCharCode; longer content goes through the decoder. */
const CHAR_CODES_MAX = 1024;

/**
 * The text of a payload that is exactly `{"content":"…"}` with printable ASCII and no escape
 * inside the quotes (nearly every text delta), read without a decoder or JSON.parse; undefined
 * for anything else, which then takes the general path.
 */
function plainContent(payload: Uint8Array): string | undefined {
  const length = payload.byteLength;
  const prefix = CONTENT_PREFIX.byteLength;
  if (length < prefix + 2 || payload[length - 1] !== 0x7d || payload[length - 2] !== 0x22) {
    return undefined;
  }
  for (let i = 0; i < prefix; i++) if (payload[i] !== CONTENT_PREFIX[i]) return undefined;
  const end = length - 2;
  for (let i = prefix; i < end; i++) {
    const byte = payload[i]!;
    // A quote, a backslash, a control or a non-ASCII byte: the general path decides.
    if (byte < 0x20 || byte === 0x22 || byte === 0x5c || byte >= 0x7f) return undefined;
  }
  const content = payload.subarray(prefix, end);
  return content.byteLength <= CHAR_CODES_MAX
    ? String.fromCharCode.apply(null, content as unknown as number[])
    : utf8Decoder.decode(content);
}

function parsePayload(eventType: string, payload: Uint8Array): JsonObject {
  let body: unknown;
  try {
    body = JSON.parse(utf8Decoder.decode(payload));
  } catch (err) {
    throw new GatewayError(
      "upstream_protocol",
      `Kiro event "${eventType}" has a payload that is not JSON`,
      { cause: err },
    );
  }
  if (!isObject(body)) throw invalid(eventType, "the payload is not a JSON object");
  return body;
}

type FieldTypes = { string: string; number: number; boolean: boolean };

/** Reads a typed field; a present field of the wrong type, or a missing required one, throws. */
function field<T extends keyof FieldTypes>(
  body: JsonObject,
  key: string,
  type: T,
  eventType: string,
  required: true,
): FieldTypes[T];
function field<T extends keyof FieldTypes>(
  body: JsonObject,
  key: string,
  type: T,
  eventType: string,
): FieldTypes[T] | undefined;
function field<T extends keyof FieldTypes>(
  body: JsonObject,
  key: string,
  type: T,
  eventType: string,
  required = false,
): FieldTypes[T] | undefined {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required) throw invalid(eventType, `"${key}" is missing`);
    return undefined;
  }
  const actual: string = typeof value;
  if (actual !== type) throw invalid(eventType, `"${key}" is not a ${type}`);
  return value as FieldTypes[T];
}

function firstNumber(body: JsonObject, camel: string, snake: string): number | undefined {
  const value = body[camel] ?? body[snake];
  return typeof value === "number" ? value : undefined;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(eventType: string, detail: string): GatewayError {
  return new GatewayError("upstream_protocol", `Kiro event "${eventType}" is invalid: ${detail}`);
}

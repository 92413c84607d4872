/**
 * The AWS event-stream binary codec Kiro answers in (spec §4.1): a prelude (total length,
 * headers length, prelude CRC32), typed headers, a payload and a message CRC32, all big-endian.
 * Decoding checks every length against a cap before allocating and both CRCs before trusting
 * a byte; any failure is a FrameError, an `upstream_protocol` GatewayError with a reason.
 */
import { crc32 } from "node:zlib";
import { GatewayError } from "../errors.ts";

/**
 * One typed header value. `boolean` covers wire types 0 (true) and 1 (false); `long` is a
 * bigint so all 64 bits survive; `timestamp` is a Date built from the wire's epoch
 * milliseconds (values beyond Date's ±8.64e15 ms range decode to an invalid Date rather
 * than failing the stream, since Kiro never sends timestamps); `uuid` is the lower-case
 * dashed string form.
 */
export type HeaderValue =
  | { type: "boolean"; value: boolean }
  | { type: "byte"; value: number }
  | { type: "short"; value: number }
  | { type: "integer"; value: number }
  | { type: "long"; value: bigint }
  | { type: "binary"; value: Uint8Array }
  | { type: "string"; value: string }
  | { type: "timestamp"; value: Date }
  | { type: "uuid"; value: string };

/**
 * One decoded event-stream message; `payload` may be a view into the received bytes, and
 * frames of one decoder with the same header bytes share one `headers` object (read-only).
 */
export interface Frame {
  headers: Record<string, HeaderValue>;
  payload: Uint8Array;
}

/** Why a frame was rejected, for logs and tests. */
export type FrameErrorReason =
  | "prelude_crc"
  | "message_crc"
  | "oversize"
  | "undersize"
  | "truncated"
  | "trailing_bytes"
  | "unknown_header_type"
  | "header_overrun";

/** An `upstream_protocol` GatewayError that names the machine-readable reason. */
export class FrameError extends GatewayError {
  readonly reason: FrameErrorReason;

  constructor(reason: FrameErrorReason, message: string) {
    super("upstream_protocol", message);
    this.reason = reason;
  }
}

/** Bytes of the prelude: total length, headers length, prelude CRC. */
export const PRELUDE_BYTES = 12;
/** The smallest legal frame: a prelude and a message CRC, no headers, no payload. */
export const MIN_FRAME_BYTES = 16;
/** The default cap on one frame's total length (16 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

const TYPE_TRUE = 0;
const TYPE_FALSE = 1;
const TYPE_BYTE = 2;
const TYPE_SHORT = 3;
const TYPE_INTEGER = 4;
const TYPE_LONG = 5;
const TYPE_BINARY = 6;
const TYPE_STRING = 7;
const TYPE_TIMESTAMP = 8;
const TYPE_UUID = 9;

const MAX_HEADER_NAME_BYTES = 255;
const MAX_HEADER_VALUE_BYTES = 65535;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** Options of a FrameDecoderStream. */
export interface FrameDecoderOptions {
  /** Frames whose declared total length exceeds this are rejected; default 16 MiB. */
  maxFrameBytes?: number;
}

/** Splits upstream bytes into checked frames (the logic of FrameDecoderStream). */
export function frameDecoder(options: FrameDecoderOptions = {}): Transformer<Uint8Array, Frame> {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  // Received bytes not yet decoded: whole chunks, the first one read from `head` on.
  const chunks: Uint8Array[] = [];
  let head = 0;
  let buffered = 0;
  // The checked total length of the frame being waited for, or 0 before its prelude.
  let expected = 0;
  const prelude = new Uint8Array(PRELUDE_BYTES);
  const memo = new HeaderMemo();

  /** Copies `length` bytes out of the pending chunks, for a frame split across chunks. */
  function takeCopy(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const chunk = chunks[0]!;
      const count = Math.min(chunk.byteLength - head, length - filled);
      out.set(chunk.subarray(head, head + count), filled);
      filled += count;
      head += count;
      if (head === chunk.byteLength) {
        chunks.shift();
        head = 0;
      }
    }
    buffered -= length;
    return out;
  }

  /** Checks the next prelude, reading it in place when the first chunk holds all of it. */
  function checkNextPrelude(): number {
    const first = chunks[0]!;
    if (first.byteLength - head >= PRELUDE_BYTES) {
      return checkPrelude(first, head, maxFrameBytes);
    }
    let filled = 0;
    for (let i = 0; filled < PRELUDE_BYTES; i++) {
      const chunk = chunks[i]!;
      const start = i === 0 ? head : 0;
      const count = Math.min(chunk.byteLength - start, PRELUDE_BYTES - filled);
      prelude.set(chunk.subarray(start, start + count), filled);
      filled += count;
    }
    return checkPrelude(prelude, 0, maxFrameBytes);
  }

  /**
   * Keeps a copy of what is left of `chunk` once its frames are out: the chunk may be lent by
   * its source (a read buffer reused for the next read). Chunks kept from earlier calls are
   * copies already, so each byte is copied at most once.
   */
  function ownLeftover(chunk: Uint8Array): void {
    const last = chunks.length - 1;
    if (last < 0 || chunks[last] !== chunk) return;
    if (last === 0) {
      chunks[0] = chunk.slice(head);
      head = 0;
    } else {
      chunks[last] = chunk.slice();
    }
  }

  return {
    transform(chunk, controller) {
      if (chunk.byteLength === 0) return;
      chunks.push(chunk);
      buffered += chunk.byteLength;
      try {
        decodeBuffered(controller);
      } finally {
        ownLeftover(chunk);
      }
    },
    flush() {
      if (buffered > 0) {
        const where = expected === 0 ? "its prelude" : `a ${expected}-byte frame`;
        throw new FrameError(
          "truncated",
          `Kiro event stream ended inside ${where}: ${buffered} bytes left over`,
        );
      }
    },
  };

  /** Hands on every whole frame buffered. */
  function decodeBuffered(controller: TransformStreamDefaultController<Frame>): void {
    while (true) {
      if (expected === 0) {
        if (buffered < PRELUDE_BYTES) return;
        expected = checkNextPrelude();
      }
      if (buffered < expected) return; // wait for the rest
      const total = expected;
      expected = 0;
      const first = chunks[0]!;
      if (first.byteLength - head >= total) {
        // The common case: decode in place, the payload is a view of the chunk.
        const at = head;
        head += total;
        buffered -= total;
        if (head === first.byteLength) {
          chunks.shift();
          head = 0;
        }
        controller.enqueue(decodeChecked(first, at, total, memo));
      } else {
        controller.enqueue(decodeChecked(takeCopy(total), 0, total, memo));
      }
    }
  }
}

/**
 * Splits upstream bytes into checked frames, whatever the chunk boundaries. Errors with a
 * FrameError on a corrupt frame and, in flush(), when the input ends inside a frame.
 */
export class FrameDecoderStream extends TransformStream<Uint8Array, Frame> {
  constructor(options: FrameDecoderOptions = {}) {
    super(frameDecoder(options));
  }
}

/**
 * Decodes exactly one frame; throws a FrameError if `bytes` is not one whole valid frame or
 * its total length exceeds `maxFrameBytes` (default 16 MiB).
 */
export function decodeFrame(
  bytes: Uint8Array,
  options: FrameDecoderOptions = {},
): Frame {
  if (bytes.byteLength < PRELUDE_BYTES) {
    throw new FrameError(
      "truncated",
      `Kiro frame is truncated: ${bytes.byteLength} bytes is shorter than the prelude`,
    );
  }
  const total = checkPrelude(bytes, 0, options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  if (bytes.byteLength < total) {
    throw new FrameError(
      "truncated",
      `Kiro frame is truncated: ${bytes.byteLength} of ${total} bytes`,
    );
  }
  if (bytes.byteLength > total) {
    throw new FrameError(
      "trailing_bytes",
      `Kiro frame has trailing bytes: ${bytes.byteLength} bytes for a ${total}-byte frame`,
    );
  }
  return decodeChecked(bytes, 0, total);
}

/** Validates the prelude at `at` (CRC, then lengths) and returns the frame's total length. */
function checkPrelude(bytes: Uint8Array, at: number, maxFrameBytes: number): number {
  const total = readUint32(bytes, at);
  const headersLength = readUint32(bytes, at + 4);
  const expectedCrc = readUint32(bytes, at + 8);
  const actualCrc = preludeCrc(bytes, at);
  if (actualCrc !== expectedCrc) {
    throw new FrameError(
      "prelude_crc",
      `Kiro frame prelude CRC does not match: expected ${hex(expectedCrc)}, got ${hex(actualCrc)}`,
    );
  }
  if (total < MIN_FRAME_BYTES) {
    throw new FrameError(
      "undersize",
      `Kiro frame is too short: ${total} bytes, the minimum is ${MIN_FRAME_BYTES}`,
    );
  }
  if (total > maxFrameBytes) {
    throw new FrameError(
      "oversize",
      `Kiro frame is too large: ${total} bytes, the limit is ${maxFrameBytes}`,
    );
  }
  if (headersLength > total - MIN_FRAME_BYTES) {
    throw new FrameError(
      "header_overrun",
      `Kiro frame headers overrun the frame: ${headersLength} header bytes in a ${total}-byte frame`,
    );
  }
  return total;
}

/**
 * The header sections a decoder saw last, decoded: Kiro repeats the same few byte for byte
 * (one per event type), and comparing ~90 bytes costs less than decoding six strings.
 */
class HeaderMemo {
  #bytes: (Uint8Array | undefined)[] = [undefined, undefined];
  #headers: Record<string, HeaderValue>[] = [{}, {}];
  #next = 0;

  /** The decoded headers of bytes[start, end), from memory when seen lately. */
  headers(bytes: Uint8Array, start: number, end: number): Record<string, HeaderValue> {
    const length = end - start;
    for (let slot = 0; slot < 2; slot++) {
      const known = this.#bytes[slot];
      if (known === undefined || known.byteLength !== length) continue;
      let i = 0;
      while (i < length && known[i] === bytes[start + i]) i++;
      if (i === length) return this.#headers[slot]!;
    }
    const headers = decodeHeaders(bytes, start, end);
    this.#bytes[this.#next] = bytes.slice(start, end);
    this.#headers[this.#next] = headers;
    this.#next = 1 - this.#next;
    return headers;
  }
}

/** Decodes the `total` bytes at `at`, a frame whose prelude checkPrelude already accepted. */
function decodeChecked(bytes: Uint8Array, at: number, total: number, memo?: HeaderMemo): Frame {
  const end = at + total;
  const headersLength = readUint32(bytes, at + 4);
  const expectedCrc = readUint32(bytes, end - 4);
  // The prelude CRC is the CRC of bytes 0..7, so continuing from it covers 0..total-5.
  const actualCrc = crc32(bytes.subarray(at + 8, end - 4), readUint32(bytes, at + 8));
  if (actualCrc !== expectedCrc) {
    throw new FrameError(
      "message_crc",
      `Kiro frame message CRC does not match: expected ${hex(expectedCrc)}, got ${hex(actualCrc)}`,
    );
  }
  const headersEnd = at + PRELUDE_BYTES + headersLength;
  return {
    headers: memo
      ? memo.headers(bytes, at + PRELUDE_BYTES, headersEnd)
      : decodeHeaders(bytes, at + PRELUDE_BYTES, headersEnd),
    payload: bytes.subarray(headersEnd, end - 4),
  };
}

/** The CRC-32 (IEEE) table, one entry per byte value. */
const CRC_TABLE: Int32Array = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/**
 * The CRC-32 of the 8 bytes at `at` (a prelude's lengths), computed here: for 8 bytes the call
 * into zlib costs several times the work.
 */
function preludeCrc(bytes: Uint8Array, at: number): number {
  let c = -1;
  for (let i = at; i < at + 8; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>>
    0;
}

function decodeHeaders(bytes: Uint8Array, start: number, end: number): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = {};
  // Kiro sends only string headers, so the DataView for numbers is made on first need.
  let numbers: DataView | undefined;
  const view = () => numbers ??= new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = start;
  while (at < end) {
    const nameLength = bytes[at]!;
    // The name and the type byte must fit before `end`; each value is checked below.
    if (at + 2 + nameLength > end) throw headerOverrun(at - start);
    const name = decodeText(bytes, at + 1, at + 1 + nameLength);
    at += 1 + nameLength;
    const type = bytes[at++]!;
    let value: HeaderValue;
    switch (type) {
      case TYPE_TRUE:
      case TYPE_FALSE:
        value = { type: "boolean", value: type === TYPE_TRUE };
        break;
      case TYPE_BYTE:
        if (at + 1 > end) throw headerOverrun(at - start);
        value = { type: "byte", value: view().getInt8(at) };
        at += 1;
        break;
      case TYPE_SHORT:
        if (at + 2 > end) throw headerOverrun(at - start);
        value = { type: "short", value: view().getInt16(at) };
        at += 2;
        break;
      case TYPE_INTEGER:
        if (at + 4 > end) throw headerOverrun(at - start);
        value = { type: "integer", value: view().getInt32(at) };
        at += 4;
        break;
      case TYPE_LONG:
        if (at + 8 > end) throw headerOverrun(at - start);
        value = { type: "long", value: view().getBigInt64(at) };
        at += 8;
        break;
      case TYPE_TIMESTAMP:
        if (at + 8 > end) throw headerOverrun(at - start);
        value = { type: "timestamp", value: new Date(Number(view().getBigInt64(at))) };
        at += 8;
        break;
      case TYPE_BINARY:
      case TYPE_STRING: {
        if (at + 2 > end) throw headerOverrun(at - start);
        const length = (bytes[at]! << 8) | bytes[at + 1]!;
        at += 2;
        if (at + length > end) throw headerOverrun(at - start);
        value = type === TYPE_STRING
          ? { type: "string", value: decodeText(bytes, at, at + length) }
          : { type: "binary", value: bytes.slice(at, at + length) }; // kept: a copy
        at += length;
        break;
      }
      case TYPE_UUID:
        if (at + 16 > end) throw headerOverrun(at - start);
        value = { type: "uuid", value: formatUuid(bytes.subarray(at, at + 16)) };
        at += 16;
        break;
      default:
        throw new FrameError(
          "unknown_header_type",
          `Kiro frame header "${name}" has an unknown value type: ${type}`,
        );
    }
    setHeader(headers, name, value);
  }
  return headers;
}

function headerOverrun(offset: number): FrameError {
  return new FrameError(
    "header_overrun",
    `Kiro frame header overruns the headers section: at offset ${offset}`,
  );
}

/** Assigns without letting a header named `__proto__` replace the object's prototype. */
function setHeader(headers: Record<string, HeaderValue>, name: string, value: HeaderValue): void {
  if (name === "__proto__") {
    Object.defineProperty(headers, name, { value, enumerable: true, writable: true });
  } else {
    headers[name] = value;
  }
}

/**
 * Header names and values Kiro sends in every frame. Matching their bytes is several times
 * faster than building the same short strings again for each frame.
 */
const KNOWN_TEXTS: readonly string[] = [
  ":event-type",
  ":content-type",
  ":message-type",
  ":exception-type",
  ":error-code",
  ":error-message",
  "application/json",
  "event",
  "exception",
  "error",
  "assistantResponseEvent",
  "toolUseEvent",
  "meteringEvent",
  "contextUsageEvent",
  "reasoningContentEvent",
  "metadataEvent",
  "followupPromptEvent",
  "codeReferenceEvent",
];

/** KNOWN_TEXTS grouped by UTF-8 length, each with its bytes. */
const KNOWN_BY_LENGTH: ReadonlyMap<number, readonly [Uint8Array, string][]> = (() => {
  const byLength = new Map<number, [Uint8Array, string][]>();
  for (const text of KNOWN_TEXTS) {
    const bytes = utf8Encoder.encode(text);
    const group = byLength.get(bytes.byteLength) ?? [];
    group.push([bytes, text]);
    byLength.set(bytes.byteLength, group);
  }
  return byLength;
})();

/** Decodes UTF-8, returning a shared string for the header texts Kiro always sends. */
function decodeText(bytes: Uint8Array, start: number, end: number): string {
  const candidates = KNOWN_BY_LENGTH.get(end - start);
  if (candidates) {
    for (const [known, text] of candidates) {
      let i = 0;
      while (i < known.byteLength && known[i] === bytes[start + i]) i++;
      if (i === known.byteLength) return text;
    }
  }
  return utf8Decoder.decode(bytes.subarray(start, end));
}

function formatUuid(bytes: Uint8Array): string {
  let hexText = "";
  for (const byte of bytes) hexText += byte.toString(16).padStart(2, "0");
  return `${hexText.slice(0, 8)}-${hexText.slice(8, 12)}-${hexText.slice(12, 16)}-${
    hexText.slice(16, 20)
  }-${hexText.slice(20)}`;
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/** Encodes an `event` frame of `eventType` with a JSON payload, as Kiro sends them. */
export function encodeEventFrame(eventType: string, payloadJson: string): Uint8Array {
  return encodeFrame({
    headers: {
      ":event-type": { type: "string", value: eventType },
      ":content-type": { type: "string", value: "application/json" },
      ":message-type": { type: "string", value: "event" },
    },
    payload: new TextEncoder().encode(payloadJson),
  });
}

/**
 * Encodes a frame with both CRCs (for tests and the fake upstream); throws a RangeError for
 * a header name over 255 bytes, a value over 65,535 bytes, a malformed uuid or an invalid Date.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const encoded: [Uint8Array, HeaderValue, Uint8Array | undefined][] = [];
  let headersLength = 0;
  for (const [name, value] of Object.entries(frame.headers)) {
    const nameBytes = utf8Encoder.encode(name);
    if (nameBytes.byteLength > MAX_HEADER_NAME_BYTES) {
      throw new RangeError(`Header name "${name}" is longer than 255 bytes`);
    }
    const valueBytes = value.type === "string"
      ? utf8Encoder.encode(value.value)
      : value.type === "binary"
      ? value.value
      : undefined;
    if (valueBytes && valueBytes.byteLength > MAX_HEADER_VALUE_BYTES) {
      throw new RangeError(`Header "${name}" value is longer than 65535 bytes`);
    }
    encoded.push([nameBytes, value, valueBytes]);
    headersLength += 2 + nameBytes.byteLength + valueSize(value, valueBytes);
  }
  const total = MIN_FRAME_BYTES + headersLength + frame.payload.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headersLength);
  view.setUint32(8, crc32(out.subarray(0, 8)));
  let at = PRELUDE_BYTES;
  for (const [nameBytes, value, valueBytes] of encoded) {
    out[at++] = nameBytes.byteLength;
    out.set(nameBytes, at);
    at += nameBytes.byteLength;
    at = writeValue(out, view, at, value, valueBytes);
  }
  out.set(frame.payload, at);
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)));
  return out;
}

function valueSize(value: HeaderValue, valueBytes: Uint8Array | undefined): number {
  switch (value.type) {
    case "boolean":
      return 0;
    case "byte":
      return 1;
    case "short":
      return 2;
    case "integer":
      return 4;
    case "long":
    case "timestamp":
      return 8;
    case "binary":
    case "string":
      return 2 + valueBytes!.byteLength;
    case "uuid":
      return 16;
  }
}

function writeValue(
  out: Uint8Array,
  view: DataView,
  at: number,
  value: HeaderValue,
  valueBytes: Uint8Array | undefined,
): number {
  switch (value.type) {
    case "boolean":
      out[at] = value.value ? TYPE_TRUE : TYPE_FALSE;
      return at + 1;
    case "byte":
      out[at] = TYPE_BYTE;
      view.setInt8(at + 1, value.value);
      return at + 2;
    case "short":
      out[at] = TYPE_SHORT;
      view.setInt16(at + 1, value.value);
      return at + 3;
    case "integer":
      out[at] = TYPE_INTEGER;
      view.setInt32(at + 1, value.value);
      return at + 5;
    case "long":
      out[at] = TYPE_LONG;
      view.setBigInt64(at + 1, value.value);
      return at + 9;
    case "timestamp": {
      const ms = value.value.getTime();
      if (Number.isNaN(ms)) throw new RangeError("Timestamp header holds an invalid Date");
      out[at] = TYPE_TIMESTAMP;
      view.setBigInt64(at + 1, BigInt(ms));
      return at + 9;
    }
    case "binary":
    case "string":
      out[at] = value.type === "string" ? TYPE_STRING : TYPE_BINARY;
      view.setUint16(at + 1, valueBytes!.byteLength);
      out.set(valueBytes!, at + 3);
      return at + 3 + valueBytes!.byteLength;
    case "uuid": {
      if (!UUID_PATTERN.test(value.value)) {
        throw new RangeError(`Header uuid "${value.value}" is not a dashed uuid`);
      }
      out[at] = TYPE_UUID;
      const digits = value.value.replaceAll("-", "");
      for (let i = 0; i < 16; i++) out[at + 1 + i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
      return at + 17;
    }
  }
}

/** The value of a string header, or undefined when it is absent or of another type. */
export function headerString(frame: Frame, name: string): string | undefined {
  const header = frame.headers[name];
  return header?.type === "string" ? header.value : undefined;
}

/** Reading HTTP bodies under a size cap: raw bytes for any message, parsed JSON for requests. */
import { GatewayError } from "../errors.ts";

/** The largest request body the dialect routes read, in bytes (images arrive inline as base64). */
export const MAX_BODY_BYTES = 50 * 1024 * 1024;

/**
 * Reads a request or response body of at most `maxBytes` (and at most the limits
 * limitRequestBody gave a request). Returns undefined, having cancelled the body, when it is
 * larger; a `content-length` above the cap is refused before reading. A request's body that
 * has not ended within its limits' time after the first read is cancelled, and the read
 * throws bodyTimedOut.
 */
export async function readBodyCapped(
  message: Request | Response,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const cap = capOf(message, maxBytes);
  const declared = Number(message.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > cap) {
    await message.body?.cancel().catch(() => {});
    return undefined;
  }
  if (!message.body) return new Uint8Array(0);
  return await readWithin(message.body, cap, (message as Limited)[LIMITS]?.timeoutMs);
}

/** Reads `body` whole unless it passes `maxBytes` (undefined) or `timeoutMs` (throws). */
async function readWithin(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  timeoutMs: number | undefined,
): Promise<Uint8Array | undefined> {
  const reader = body.getReader();
  let expired = false;
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
    expired = true;
    reader.cancel(bodyTimedOut(timeoutMs)).catch(() => {});
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (err) {
        if (expired) throw bodyTimedOut(timeoutMs!);
        throw err;
      }
      if (expired) throw bodyTimedOut(timeoutMs!);
      if (result.done) break;
      total += result.value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(result.value);
    }
  } finally {
    clearTimeout(timer);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** The error every route answers for a body over `maxBytes` (413 in the route's dialect). */
export function bodyTooLarge(maxBytes: number): GatewayError {
  return new GatewayError(
    "payload_too_large",
    `Request body is too large: the limit is ${maxBytes} bytes`,
  );
}

/**
 * How long a request body may take to arrive once a handler starts reading it, in
 * milliseconds: a client trickling its body (or sending none after its headers) cannot hold
 * a request open longer. Deno.serve has no bound for header reading or idle connections.
 */
export const BODY_TIMEOUT_MS = 60_000;

/** The error every route answers for a body that did not arrive in time (408). */
export function bodyTimedOut(timeoutMs: number): GatewayError {
  return new GatewayError(
    "request_timeout",
    `Request body did not arrive in time: the limit is ${timeoutMs / 1000} s`,
  );
}

/** Limits of limitRequestBody. */
export interface BodyLimits {
  maxBytes: number;
  /** BODY_TIMEOUT_MS unless given. */
  timeoutMs?: number;
}

/** Where limitRequestBody keeps a request's limits for readBodyCapped. */
const LIMITS = Symbol("request body limits");

type Limited = (Request | Response) & { [LIMITS]?: Required<BodyLimits> };

/**
 * Holds `req`'s body to `limits`, for every route alike. Throws bodyTooLarge at once when
 * `content-length` declares more than `maxBytes` (the body is cancelled unread); otherwise the
 * limits stay with the request, and reading its body through readBodyCapped or readJsonBody
 * (as every route does) stops past `maxBytes`, and with bodyTimedOut when the body has not
 * ended `timeoutMs` after the first read, its source cancelled either way. The clock starts
 * at the first read, so a body nobody reads (a request refused before its body) holds no
 * timer. The body itself is not wrapped: a second Request and stream around every body cost
 * more than the whole rest of reading it.
 */
export async function limitRequestBody(req: Request, limits: BodyLimits): Promise<Request> {
  if (req.body === null || req.method === "GET" || req.method === "HEAD") return req;
  const { maxBytes } = limits;
  const declared = Number(req.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > maxBytes) {
    await req.body.cancel().catch(() => {});
    throw bodyTooLarge(maxBytes);
  }
  (req as Limited)[LIMITS] = { maxBytes, timeoutMs: limits.timeoutMs ?? BODY_TIMEOUT_MS };
  return req;
}

/** The most bytes a body of `message` may have: `maxBytes`, or less when its limits say so. */
function capOf(message: Request | Response, maxBytes: number): number {
  return Math.min(maxBytes, (message as Limited)[LIMITS]?.maxBytes ?? maxBytes);
}

/** Gives `copy` (a request made from `original`, such as a tapped one) the limits of `original`. */
export function keepBodyLimits(original: Request, copy: Request): Request {
  const limits = (original as Limited)[LIMITS];
  if (limits) (copy as Limited)[LIMITS] = limits;
  return copy;
}

/**
 * Decodes a request body as UTF-8 text. Throws an `invalid_request` GatewayError naming the
 * offset of the first invalid byte sequence instead of replacing it.
 */
export function decodeUtf8Body(bytes: Uint8Array): string {
  try {
    // fatal: invalid bytes are refused, never replaced with U+FFFD.
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    const offset = firstInvalidUtf8(bytes);
    throw new GatewayError(
      "invalid_request",
      `Invalid request: the body is not valid UTF-8: invalid byte sequence at byte ${offset}`,
      { cause: err },
    );
  }
}

/** The offset of the first byte that does not start a well-formed UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let at = 0; at < bytes.byteLength;) {
    const lead = bytes[at]!;
    const [length, low, high] = lead < 0x80
      ? [1, 0x80, 0xbf]
      : lead >= 0xc2 && lead <= 0xdf
      ? [2, 0x80, 0xbf]
      : lead === 0xe0
      ? [3, 0xa0, 0xbf]
      : lead === 0xed
      ? [3, 0x80, 0x9f]
      : lead >= 0xe1 && lead <= 0xef
      ? [3, 0x80, 0xbf]
      : lead === 0xf0
      ? [4, 0x90, 0xbf]
      : lead === 0xf4
      ? [4, 0x80, 0x8f]
      : lead >= 0xf1 && lead <= 0xf3
      ? [4, 0x80, 0xbf]
      : [0, 0, 0];
    if (length === 0 || at + length > bytes.byteLength) return at;
    for (let i = 1; i < length; i++) {
      const next = bytes[at + i]!;
      const [min, max] = i === 1 ? [low, high] : [0x80, 0xbf];
      if (next < min || next > max) return at;
    }
    at += length;
  }
  return bytes.byteLength;
}

/**
 * How deeply a request body's JSON may nest. Real bodies (tool schemas included) stay far
 * below; thousands of levels overflowed the stack of the recursive steps after parsing (the
 * gateway answered 502 "Maximum call stack size exceeded").
 */
export const MAX_JSON_DEPTH = 128;

/** Whether JSON `text` nests objects and arrays deeper than `limit` (strings are skipped). */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // a string: skip to its closing quote
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Reads and parses a JSON request body of at most `maxBytes`. Throws a `payload_too_large`
 * GatewayError beyond the cap and an `invalid_request` one when the body is empty, not UTF-8,
 * not JSON or nested deeper than MAX_JSON_DEPTH. Every dialect reads its body here.
 */
export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  const bytes = await readBodyCapped(req, maxBytes);
  if (bytes === undefined) {
    throw bodyTooLarge(capOf(req, maxBytes));
  }
  const text = decodeUtf8Body(bytes);
  if (text.trim() === "") {
    throw new GatewayError("invalid_request", "Invalid request: the body is empty, expected JSON");
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new GatewayError(
      "invalid_request",
      `Invalid request: the body nests objects and lists deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new GatewayError(
      "invalid_request",
      `Invalid request: the body is not valid JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

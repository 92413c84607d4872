/** Reading HTTP bodies under a size cap: raw bytes for any message, parsed JSON for requests. */
import { GatewayError } from "../errors.ts";

/** The largest request body the dialect routes read, in bytes (images arrive inline as base64). */
export const MAX_BODY_BYTES = 50 * 1024 * 1024;

/**
 * Reads a request or response body of at most `maxBytes`. Returns undefined, having cancelled
 * the body, when it is larger; a `content-length` above the cap is refused before reading.
 */
export async function readBodyCapped(
  message: Request | Response,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const declared = Number(message.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > maxBytes) {
    await message.body?.cancel();
    return undefined;
  }
  if (!message.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = message.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Reads and parses a JSON request body of at most `maxBytes`. Throws a `payload_too_large`
 * GatewayError beyond the cap and an `invalid_request` one when the body is empty or not JSON.
 */
export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  const bytes = await readBodyCapped(req, maxBytes);
  if (bytes === undefined) {
    throw new GatewayError(
      "payload_too_large",
      `Request body is too large: the limit is ${maxBytes} bytes`,
    );
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") {
    throw new GatewayError("invalid_request", "Invalid request: the body is empty, expected JSON");
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

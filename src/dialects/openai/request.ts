/**
 * Converts a validated chat completions body into a ChatRequest (spec §7.4, §2.4, §2.5, §2.7).
 *
 * Choices this dialect makes beyond the reference:
 * - `developer` messages are system instructions (OpenAI's newer name for them), so they join
 *   the system prompt with `system` messages instead of becoming user turns.
 * - `http(s)` image URLs are fetched (10 s, 5 MB, `image/*` only) and sent as bytes, because
 *   Kiro takes bytes only; a URL that cannot be fetched fails the request with a 400.
 * - Historical tool-call arguments that are not a JSON object are kept as `{"_raw": text}`
 *   rather than failing the request or being dropped, so the model still sees what it sent.
 * - `tool_choice: "none"` sends no tools (the closest Kiro gets to "do not call tools"); every
 *   other `tool_choice`, `temperature`, `stop` and the like are accepted and ignored, since Kiro
 *   has no such controls.
 */
import { Buffer } from "node:buffer";
import type { Config } from "../../config.ts";
import {
  type ChatImage,
  type ChatMessage,
  type ChatRequest,
  emptyMessage,
  type ToolDefinition,
} from "../../core/chat.ts";
import { thinkingFromEffort } from "../../core/thinking_budget.ts";
import { toToolArguments } from "../../core/tool_args.ts";
import { GatewayError } from "../../errors.ts";
import type {
  ChatCompletionsBody,
  OpenAiContent,
  OpenAiContentPart,
  OpenAiMessage,
  OpenAiTool,
  OpenAiToolCall,
} from "./schema.ts";

/** How long fetching one image URL may take, in milliseconds. */
export const IMAGE_FETCH_TIMEOUT_MS = 10_000;

/** The largest image the gateway fetches from a URL, in bytes. */
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/** Fetches an image URL as bytes; rejects with an Error whose message says what went wrong. */
export type ImageFetcher = (url: string, signal: AbortSignal) => Promise<ChatImage>;

/** Options of toChatRequest. */
export interface ToChatRequestOptions {
  config: Readonly<Config>;
  /** The client's request signal: leaving cancels image fetches. */
  signal?: AbortSignal;
  /** Replaces the default image fetcher (tests). */
  fetchImage?: ImageFetcher;
}

/** Parts whose text never counts as message text (spec §2.4). */
const NON_TEXT_PARTS = new Set(["image", "image_url", "tool_reference", "tool_result"]);

/**
 * Builds the neutral request from a validated body. Throws an `invalid_request` GatewayError
 * when an image cannot be used, naming the field (`messages.0.content.1.image_url.url`).
 */
export async function toChatRequest(
  body: ChatCompletionsBody,
  options: ToChatRequestOptions,
): Promise<ChatRequest> {
  const images = new ImageReader(options.fetchImage ?? fetchImage, options.signal);
  const systemParts: string[] = [];
  const messages: ChatMessage[] = [];
  let toolTurn: ChatMessage | undefined;
  for (const [index, message] of body.messages.entries()) {
    const path = `messages.${index}`;
    if (message.role === "tool") {
      toolTurn ??= emptyMessage("user");
      toolTurn.toolResults.push({
        toolUseId: message.tool_call_id ?? "",
        content: textOf(message.content),
        isError: false,
      });
      toolTurn.images.push(...await images.read(message.content, `${path}.content`));
      continue;
    }
    if (toolTurn) messages.push(toolTurn);
    toolTurn = undefined;
    if (message.role === "system" || message.role === "developer") {
      const text = textOf(message.content);
      if (text !== "") systemParts.push(text);
    } else if (message.role === "user") {
      messages.push(await toUserMessage(message, path, images));
    } else {
      messages.push(toAssistantMessage(message));
    }
  }
  if (toolTurn) messages.push(toolTurn);

  const maxOutputTokens = body.max_tokens ?? body.max_completion_tokens ?? undefined;
  return {
    model: body.model,
    system: systemParts.join("\n").trim(),
    messages,
    tools: body.tool_choice === "none" ? [] : toToolDefinitions(body.tools ?? []),
    thinking: thinkingFromEffort(
      body.reasoning_effort ?? undefined,
      maxOutputTokens,
      options.config,
    ),
    maxOutputTokens,
    stream: body.stream ?? false,
  };
}

async function toUserMessage(
  message: OpenAiMessage,
  path: string,
  images: ImageReader,
): Promise<ChatMessage> {
  const user = emptyMessage("user");
  user.text = textOf(message.content);
  user.images = await images.read(message.content, `${path}.content`);
  // Anthropic-style tool_result parts inside a user message (spec §7.4 step 4).
  for (const [partIndex, part] of partsOf(message.content).entries()) {
    if (typeof part === "string" || part.type !== "tool_result") continue;
    user.toolResults.push({
      toolUseId: part.tool_use_id ?? "",
      content: textOf(part.content as OpenAiContent),
      isError: part.is_error ?? false,
    });
    const nested = `${path}.content.${partIndex}.content`;
    user.images.push(...await images.read(part.content as OpenAiContent, nested));
  }
  return user;
}

function toAssistantMessage(message: OpenAiMessage): ChatMessage {
  const assistant = emptyMessage("assistant");
  // reasoning_content from earlier replies is dropped: Kiro history has no place for it.
  assistant.text = textOf(message.content);
  assistant.toolCalls = (message.tool_calls ?? []).map((call) => ({
    id: call.id,
    name: call.function.name,
    input: toToolInput(call.function.arguments),
  }));
  return assistant;
}

/** Parses history arguments; non-object text is kept under `_raw` (see the module comment). */
function toToolInput(args: OpenAiToolCall["function"]["arguments"]): Record<string, unknown> {
  if (args === null || args === undefined) return {};
  if (typeof args !== "string") return args;
  const result = toToolArguments(args);
  if (result.ok) return JSON.parse(result.arguments) as Record<string, unknown>;
  return { _raw: args };
}

function toToolDefinitions(tools: OpenAiTool[]): ToolDefinition[] {
  const definitions: ToolDefinition[] = [];
  for (const tool of tools) {
    if (tool.type !== "function") continue;
    // The nested `function` wins over the flat "Cursor" fields when both are present.
    const nested = tool.function;
    const name = nested?.name ?? tool.name;
    if (!name) continue; // unreachable: the schema requires a name for function tools
    definitions.push({
      name,
      description: (nested ? nested.description : tool.description) ?? "",
      inputSchema: (nested ? nested.parameters : tool.input_schema ?? tool.parameters) ?? {},
    });
  }
  return definitions;
}

function partsOf(content: OpenAiContent): OpenAiContentPart[] {
  if (content === null || content === undefined || typeof content === "string") return [];
  return Array.isArray(content) ? content : [content];
}

/** The text of message content by the rule of spec §2.4. */
export function textOf(content: OpenAiContent): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  let text = "";
  for (const part of Array.isArray(content) ? content : [content]) {
    if (typeof part === "string") text += part;
    else if (!NON_TEXT_PARTS.has(part.type) && typeof part.text === "string") text += part.text;
  }
  return text;
}

/** Collects the images of content parts, fetching URLs with the injected fetcher. */
class ImageReader {
  #fetch: ImageFetcher;
  #signal: AbortSignal;

  constructor(fetcher: ImageFetcher, signal: AbortSignal | undefined) {
    this.#fetch = fetcher;
    this.#signal = signal ?? new AbortController().signal;
  }

  async read(content: OpenAiContent, path: string): Promise<ChatImage[]> {
    if (!Array.isArray(content)) return [];
    const images: ChatImage[] = [];
    for (const [index, part] of content.entries()) {
      if (typeof part === "string" || part.type !== "image_url" || !part.image_url) continue;
      const url = typeof part.image_url === "string" ? part.image_url : part.image_url.url;
      const param = `${path}.${index}.image_url${typeof part.image_url === "string" ? "" : ".url"}`;
      const image = await this.#readUrl(url.trim(), param);
      if (image) images.push(image);
    }
    return images;
  }

  async #readUrl(url: string, param: string): Promise<ChatImage | undefined> {
    if (/^data:/i.test(url)) {
      try {
        return parseDataUrl(url);
      } catch (err) {
        throw new GatewayError(
          "invalid_request",
          `Invalid image in ${param}: ${(err as Error).message}`,
          { param, cause: err },
        );
      }
    }
    if (!/^https?:\/\//i.test(url)) {
      throw new GatewayError(
        "invalid_request",
        `Invalid image in ${param}: expected a data: or http(s) URL, got "${shorten(url)}"`,
        { param },
      );
    }
    try {
      return await this.#fetch(url, this.#signal);
    } catch (err) {
      throw new GatewayError(
        "invalid_request",
        `Cannot fetch image "${shorten(url)}": ${(err as Error).message}`,
        { param, cause: err },
      );
    }
  }
}

/**
 * Decodes a `data:` URL into an image; returns undefined when it holds no data (dropped, as
 * spec §2.7 says). Throws an Error when the URL is malformed or its media type is not an image.
 */
export function parseDataUrl(url: string): ChatImage | undefined {
  const comma = url.indexOf(",");
  if (comma < 0) throw new Error("a data URL needs a comma before its data");
  const params = url.slice("data:".length, comma).split(";").map((p) => p.trim());
  const mediaType = (params[0] || "image/jpeg").toLowerCase();
  if (!mediaType.startsWith("image/")) {
    throw new Error(`media type "${mediaType}" is not an image`);
  }
  const payload = url.slice(comma + 1);
  const data = params.includes("base64")
    ? payload.replace(/\s+/g, "")
    : Buffer.from(decodeURIComponent(payload), "latin1").toString("base64");
  if (data === "") return undefined;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(data)) throw new Error("the data is not valid base64");
  return { mediaType, data };
}

/** Options of fetchImage. */
export interface FetchImageOptions {
  timeoutMs?: number;
  maxBytes?: number;
}

/**
 * Fetches an `http(s)` image: the answer must be 2xx with an `image/*` content type and at most
 * `maxBytes`, within `timeoutMs`. Rejects with an Error whose message is the reason.
 */
export async function fetchImage(
  url: string,
  signal: AbortSignal,
  options: FetchImageOptions = {},
): Promise<ChatImage> {
  const timeoutMs = options.timeoutMs ?? IMAGE_FETCH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? MAX_IMAGE_BYTES;
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        signal: AbortSignal.any([signal, timeout.signal]),
        redirect: "follow",
      });
    } catch (err) {
      throw new Error(fetchFailure(err, timeout.signal.aborted, timeoutMs));
    }
    const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim()
      .toLowerCase();
    if (!response.ok || !mediaType.startsWith("image/")) {
      await response.body?.cancel();
      throw new Error(
        !response.ok
          ? `the server answered ${response.status}`
          : `content type "${mediaType || "(none)"}" is not an image`,
      );
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new Error(`the image is larger than ${maxBytes} bytes`);
    }
    let bytes: Uint8Array;
    try {
      bytes = await readCapped(response, maxBytes);
    } catch (err) {
      if (err instanceof ImageTooLargeError) throw err;
      throw new Error(fetchFailure(err, timeout.signal.aborted, timeoutMs));
    }
    return { mediaType, data: Buffer.from(bytes).toString("base64") };
  } finally {
    clearTimeout(timer);
  }
}

class ImageTooLargeError extends Error {}

async function readCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new ImageTooLargeError(`the image is larger than ${maxBytes} bytes`);
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

function fetchFailure(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no answer within ${timeoutMs} ms`;
  return err instanceof Error ? err.message : String(err);
}

function shorten(url: string): string {
  return url.length > 200 ? `${url.slice(0, 200)}…` : url;
}

/**
 * Anthropic request bodies to ChatRequests (spec §7.5, §2.4, §2.7, §8.5).
 *
 * Choices beyond the spec:
 * - The texts of a message's `text` blocks are joined with "\n" so separate blocks (Claude
 *   Code's reminders, then the prompt) do not run into each other.
 * - `thinking` blocks whose signature the gateway made from Kiro's, and `redacted_thinking`
 *   blocks whose data it made, go back to Kiro with their turn (spec §8.6); all other reasoning
 *   blocks (the placeholder signature of tag-derived thinking, other providers' signatures)
 *   are dropped.
 * - `document` blocks with a plain-text source become text; other documents (PDF, URL, file)
 *   are dropped with a warning, and block types the gateway does not know with a debug line.
 * - URL images are fetched (http and https only, with a timeout, a size cap, an `image/*`
 *   check and the IMAGE_URL_FETCH host policy) because Kiro takes bytes only; a failure is the
 *   client's 400. `data:` URLs may be base64 or percent-encoded and must hold an image type.
 * - The web search server tool (`web_search_20250305` and later) becomes the request's
 *   `webSearch` (core/web_search.ts runs it): `direct` when it is the only tool (Claude
 *   Code's WebSearch sub-request), else the search loop. Other server tools do not exist on
 *   Kiro: they are dropped with a warning.
 * - `system` messages among the turns (Claude Code 2.1 sends its environment notes so) join
 *   the system prompt after the top-level `system`, in order; they are not turns for Kiro.
 * - `server_tool_use` and `web_search_tool_result` blocks in history become assistant text
 *   (the query, then titles, URLs and snippets), so the model still sees what it found.
 * - `output_config.format` (or the beta's `output_format`) of type `json_schema` becomes the
 *   request's `responseFormat`, `tool_choice` `any` or `tool` its `toolChoice`: Kiro has no
 *   such fields, so the request builder turns both into instructions. `tool_choice` `none`
 *   sends no tools.
 * - `stop_sequences`, `metadata`, `temperature`, `top_p` and `top_k` are accepted and ignored:
 *   Kiro has no such controls.
 */
import type { Config } from "../../config.ts";
import type {
  ChatImage,
  ChatMessage,
  ChatRequest,
  ToolChoice,
  ToolDefinition,
  WebSearchHit,
  WebSearchSettings,
} from "../../core/chat.ts";
import { describeHits } from "../../core/web_search.ts";
import { emptyMessage } from "../../core/chat.ts";
import { fromClientRedacted, fromClientSignature } from "../../core/signatures.ts";
import {
  fetchImage,
  type ImageFetcher,
  parseDataUrl,
  toKiroImage,
  toKiroImageType,
} from "../../core/images.ts";
import { type ThinkingConfig, thinkingFromAnthropic } from "../../core/thinking_budget.ts";
import { GatewayError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type {
  CountTokensBody,
  ImageSource,
  Message,
  MessagesBody,
  Tool,
  ToolResultContentBlock,
} from "./schema.ts";

/** Options of toChatRequest. */
export interface ToChatRequestOptions {
  config: ThinkingConfig & Pick<Config, "imageUrlFetch">;
  logger: Logger;
  /** Aborts image downloads when the client leaves. */
  signal?: AbortSignal;
  /** Makes the HTTP requests of image downloads instead of `fetch` (tests). */
  fetchImage?: ImageFetcher;
  /** Replaces IMAGE_FETCH_TIMEOUT_MS. */
  imageTimeoutMs?: number;
  /** Replaces MAX_IMAGE_BYTES. */
  maxImageBytes?: number;
}

/** A body either route accepts: count_tokens has no `max_tokens` and never streams. */
export type AnthropicBody = CountTokensBody & Partial<Pick<MessagesBody, "max_tokens" | "stream">>;

/**
 * Converts a validated body to a ChatRequest, downloading URL images. Throws an
 * `invalid_request` GatewayError naming the field when an image cannot be fetched.
 */
export async function toChatRequest(
  body: AnthropicBody,
  options: ToChatRequestOptions,
): Promise<ChatRequest> {
  const messages: ChatMessage[] = [];
  const systemParts = [toSystemText(body.system)];
  for (const [index, message] of body.messages.entries()) {
    if (message.role === "system") {
      systemParts.push(systemMessageText(message));
      continue;
    }
    messages.push(await toChatMessage(message, `messages.${index}`, options));
  }
  const toolChoice = toToolChoice(body.tool_choice);
  const tools = toolChoice === "none" ? [] : toToolDefinitions(body.tools ?? [], options.logger);
  const chat: ChatRequest = {
    model: body.model,
    system: systemParts.filter((part) => part !== "").join("\n"),
    messages,
    tools,
    thinking: thinkingFromAnthropic(body.thinking, body.output_config?.effort, options.config),
    stream: body.stream ?? false,
  };
  if (body.max_tokens !== undefined) chat.maxOutputTokens = body.max_tokens;
  const webSearch = toWebSearch(body.tools ?? [], tools.length);
  if (webSearch) chat.webSearch = webSearch;
  const format = body.output_config?.format ?? body.output_format;
  if (format?.type === "json_schema" && format.schema) {
    chat.responseFormat = { type: "json_schema", schema: format.schema };
  }
  if (toolChoice && toolChoice !== "none" && tools.length > 0) chat.toolChoice = toolChoice;
  return chat;
}

/** `{type:"any"}` and `{type:"tool",name}` are forced choices; `none` means no tools. */
function toToolChoice(choice: unknown): ToolChoice | "none" | undefined {
  if (typeof choice !== "object" || choice === null) return undefined;
  const c = choice as { type?: unknown; name?: unknown };
  if (c.type === "none") return "none";
  if (c.type === "any") return { type: "any" };
  if (c.type === "tool" && typeof c.name === "string" && c.name !== "") {
    return { type: "tool", name: c.name };
  }
  return undefined;
}

function toSystemText(system: AnthropicBody["system"]): string {
  if (system === undefined) return "";
  if (typeof system === "string") return system;
  return system.flatMap((block) => block.type === "text" && block.text ? [block.text] : [])
    .join("\n");
}

function systemMessageText(message: Message): string {
  if (typeof message.content === "string") return message.content;
  return message.content.flatMap((block) => block.type === "text" ? [block.text] : []).join("\n");
}

function isWebSearchTool(tool: Tool): boolean {
  return tool.type?.startsWith("web_search") ?? false;
}

/** The web search the body's server tool asks for, if it has one. */
function toWebSearch(tools: Tool[], clientTools: number): WebSearchSettings | undefined {
  const tool = tools.find(isWebSearchTool);
  if (!tool) return undefined;
  const settings: WebSearchSettings = { mode: clientTools === 0 ? "direct" : "loop" };
  if (tool.max_uses) settings.maxUses = tool.max_uses;
  if (tool.allowed_domains?.length) settings.allowedDomains = tool.allowed_domains;
  if (tool.blocked_domains?.length) settings.blockedDomains = tool.blocked_domains;
  return settings;
}

function toToolDefinitions(tools: Tool[], logger: Logger): ToolDefinition[] {
  const definitions: ToolDefinition[] = [];
  for (const tool of tools) {
    if (isWebSearchTool(tool)) continue;
    if (tool.type !== undefined && tool.type !== "custom") {
      logger.warn("Ignoring a server tool: Kiro does not run Anthropic server tools", {
        tool: tool.name,
        type: tool.type,
      });
      continue;
    }
    definitions.push({
      name: tool.name,
      description: tool.description ?? "",
      inputSchema: tool.input_schema ?? {},
    });
  }
  return definitions;
}

async function toChatMessage(
  message: Message,
  path: string,
  options: ToChatRequestOptions,
): Promise<ChatMessage> {
  const chat = emptyMessage(message.role === "assistant" ? "assistant" : "user");
  if (typeof message.content === "string") {
    chat.text = message.content;
    return chat;
  }
  const texts: string[] = [];
  /** Queries of this message's server_tool_use blocks, by id. */
  const queries = new Map<string, string>();
  for (const [index, block] of message.content.entries()) {
    const blockPath = `${path}.content.${index}`;
    switch (block.type) {
      case "text":
        if (block.text !== "") texts.push(block.text);
        break;
      case "image": {
        const image = await toChatImage(block.source, `${blockPath}.source`, options);
        if (image) chat.images.push(image);
        break;
      }
      case "tool_use":
        if (message.role !== "assistant") {
          skipBlock(options.logger, "tool_use outside an assistant message", blockPath);
          break;
        }
        chat.toolCalls.push({ id: block.id, name: block.name, input: block.input ?? {} });
        break;
      case "tool_result": {
        if (message.role !== "user") {
          skipBlock(options.logger, "tool_result outside a user message", blockPath);
          break;
        }
        const texts: string[] = [];
        const content = typeof block.content === "string"
          ? [{ type: "text" as const, text: block.content }]
          : block.content ?? [];
        for (const [inner, item] of content.entries()) {
          const itemPath = `${blockPath}.content.${inner}`;
          const text = await liftToolResultBlock(item, itemPath, chat.images, options);
          if (text) texts.push(text);
        }
        chat.toolResults.push({
          toolUseId: block.tool_use_id,
          content: texts.join("\n"),
          isError: block.is_error ?? false,
        });
        break;
      }
      case "thinking": {
        const signature = fromClientSignature(block.signature);
        if (message.role === "assistant" && signature !== undefined && !chat.reasoning) {
          const text = typeof block.thinking === "string" ? block.thinking : "";
          chat.reasoning = { type: "text", text, signature };
        }
        break;
      }
      case "redacted_thinking": {
        const data = fromClientRedacted(block.data);
        if (message.role === "assistant" && data !== undefined && !chat.reasoning) {
          chat.reasoning = { type: "redacted", data };
        }
        break;
      }
      case "tool_reference":
        break;
      case "document": {
        const text = documentText(block.source, blockPath, options.logger);
        if (text) texts.push(text);
        break;
      }
      case "server_tool_use": {
        const query = typeof block.input?.query === "string" ? block.input.query : "";
        queries.set(block.id, query);
        break;
      }
      case "web_search_tool_result":
        texts.push(webSearchText(queries.get(block.tool_use_id) ?? "", block.content));
        break;
      case "unknown":
        skipBlock(options.logger, `unsupported block type "${block.originalType}"`, blockPath);
        break;
    }
  }
  chat.text = texts.join("\n");
  return chat;
}

/** The text the model sees for a web search in history: its results, or that it failed. */
function webSearchText(query: string, content: unknown): string {
  if (!Array.isArray(content)) {
    const code = (content as { error_code?: unknown } | null)?.error_code;
    return `The web search for "${query}" failed${typeof code === "string" ? ` (${code})` : ""}.`;
  }
  const hits: WebSearchHit[] = [];
  for (const item of content) {
    const result = item as Record<string, unknown> | null;
    if (result?.type !== "web_search_result" || typeof result.url !== "string") continue;
    hits.push({
      title: typeof result.title === "string" ? result.title : result.url,
      url: result.url,
      snippet: typeof result.encrypted_content === "string" ? result.encrypted_content : "",
    });
  }
  return describeHits(query, hits);
}

/** Returns a tool_result item's text, pushing its image (if any) to `images`. */
async function liftToolResultBlock(
  item: ToolResultContentBlock,
  path: string,
  images: ChatImage[],
  options: ToChatRequestOptions,
): Promise<string> {
  switch (item.type) {
    case "text":
      return item.text;
    case "image": {
      const image = await toChatImage(item.source, `${path}.source`, options);
      if (image) images.push(image);
      return "";
    }
    case "document":
      return documentText(item.source, path, options.logger);
    case "tool_reference":
      return "";
    case "unknown":
      skipBlock(options.logger, `unsupported block type "${item.originalType}"`, path);
      return "";
  }
}

function documentText(source: { type: string; data?: unknown }, path: string, logger: Logger) {
  if (source.type === "text" && typeof source.data === "string") return source.data;
  logger.warn("Ignoring a document block: Kiro reads plain-text documents only", {
    path,
    sourceType: source.type,
  });
  return "";
}

function skipBlock(logger: Logger, why: string, path: string): void {
  logger.debug("Ignoring a content block", { path, why });
}

async function toChatImage(
  source: ImageSource,
  path: string,
  options: ToChatRequestOptions,
): Promise<ChatImage | undefined> {
  if (source.type === "base64") return toBase64Image(source.data, source.media_type, path);
  if (/^data:/i.test(source.url)) return fromDataUrl(source.url, `${path}.url`);
  return await toFetchedImage(source.url, `${path}.url`, options);
}

/** A base64 source as Kiro takes it; a type or data Kiro would refuse is the client's 400. */
function toBase64Image(data: string, mediaType: string, path: string): ChatImage | undefined {
  const match = data.match(/^data:([^;,]*)(?:;[^,]*)?,/);
  const bytes = match ? data.slice(match[0].length) : data;
  const type = match?.[1] || mediaType || "image/jpeg";
  let param = match?.[1] ? `${path}.data` : `${path}.media_type`;
  try {
    const kiroType = toKiroImageType(type);
    param = `${path}.data`;
    return toKiroImage(kiroType, bytes);
  } catch (err) {
    throw new GatewayError("invalid_request", `${param}: ${(err as Error).message}`, {
      param,
      cause: err,
    });
  }
}

function fromDataUrl(url: string, param: string): ChatImage | undefined {
  try {
    return parseDataUrl(url);
  } catch (err) {
    throw new GatewayError(
      "invalid_request",
      `Cannot read image "${url.slice(0, 40)}…": ${(err as Error).message}`,
      { param, cause: err },
    );
  }
}

async function toFetchedImage(
  url: string,
  param: string,
  options: ToChatRequestOptions,
): Promise<ChatImage> {
  try {
    return await fetchImage(url, options.signal ?? new AbortController().signal, {
      policy: options.config.imageUrlFetch,
      fetch: options.fetchImage,
      timeoutMs: options.imageTimeoutMs,
      maxBytes: options.maxImageBytes,
    });
  } catch (err) {
    throw new GatewayError(
      "invalid_request",
      `Cannot fetch image "${url}": ${(err as Error).message}`,
      { param, cause: err },
    );
  }
}

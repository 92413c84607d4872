/**
 * Converts a validated chat completions body into a ChatRequest (spec §7.4, §2.4, §2.5, §2.7).
 *
 * Choices this dialect makes beyond the reference:
 * - `developer` messages are system instructions (OpenAI's newer name for them), so they join
 *   the system prompt with `system` messages instead of becoming user turns.
 * - `http(s)` image URLs are fetched (10 s, 5 MB, `image/*` only, hosts as IMAGE_URL_FETCH
 *   allows) and sent as bytes, because Kiro takes bytes only; a URL that cannot be fetched
 *   fails the request with a 400.
 * - Historical tool-call arguments that are not a JSON object are kept as `{"_raw": text}`
 *   rather than failing the request or being dropped, so the model still sees what it sent.
 * - `web_search_options` turns on the gateway's web search loop (core/web_search.ts): the
 *   model may search, and the client sees only the answer that used the results.
 * - `tool_choice: "none"` sends no tools (the closest Kiro gets to "do not call tools");
 *   `required`, a named function and `allowed_tools` with mode `required` become the request's
 *   `toolChoice`, and `response_format` (`json_schema`, `json_object`) its `responseFormat`:
 *   Kiro has no such fields, so the request builder turns both into instructions.
 *   `temperature`, `stop` and the like are accepted and ignored, since Kiro has no such controls.
 */
import type { Config } from "../../config.ts";
import {
  type ChatImage,
  type ChatMessage,
  type ChatRequest,
  emptyMessage,
  type ResponseFormat,
  type ToolChoice,
  type ToolDefinition,
} from "../../core/chat.ts";
import { readImageUrl } from "../../core/image_url.ts";
import type { ImageFetcher } from "../../core/images.ts";
import { thinkingFromEffort } from "../../core/thinking_budget.ts";
import { toToolArguments } from "../../core/tool_args.ts";
import type {
  ChatCompletionsBody,
  OpenAiContent,
  OpenAiContentPart,
  OpenAiMessage,
  OpenAiTool,
  OpenAiToolCall,
} from "./schema.ts";

/** Options of toChatRequest. */
export interface ToChatRequestOptions {
  config: Readonly<Config>;
  /** The client's request signal: leaving cancels image fetches. */
  signal?: AbortSignal;
  /** Makes the HTTP requests of image fetches instead of `fetch` (tests). */
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
      toolTurn.images.push(...await readImages(message.content, `${path}.content`, options));
      continue;
    }
    if (toolTurn) messages.push(toolTurn);
    toolTurn = undefined;
    if (message.role === "system" || message.role === "developer") {
      const text = textOf(message.content);
      if (text !== "") systemParts.push(text);
    } else if (message.role === "user") {
      messages.push(await toUserMessage(message, path, options));
    } else {
      messages.push(toAssistantMessage(message));
    }
  }
  if (toolTurn) messages.push(toolTurn);

  const maxOutputTokens = body.max_tokens ?? body.max_completion_tokens ?? undefined;
  const chat: ChatRequest = {
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
    ...(body.prompt_cache_key ? { promptCacheKey: body.prompt_cache_key.slice(0, 200) } : {}),
  };
  if (body.web_search_options) chat.webSearch = { mode: "loop" };
  const responseFormat = toResponseFormat(body.response_format);
  if (responseFormat) chat.responseFormat = responseFormat;
  const toolChoice = toToolChoice(body.tool_choice);
  if (toolChoice && chat.tools.length > 0) chat.toolChoice = toolChoice;
  return chat;
}

function toResponseFormat(
  format: ChatCompletionsBody["response_format"],
): ResponseFormat | undefined {
  if (format?.type === "json_object") return { type: "json_object" };
  if (format?.type !== "json_schema" || !format.json_schema?.schema) return undefined;
  const { name, description, schema, strict } = format.json_schema;
  const result: ResponseFormat = { type: "json_schema", schema };
  if (name) result.name = name;
  if (description) result.description = description;
  if (typeof strict === "boolean") result.strict = strict;
  return result;
}

/** `required`, `{type:"function",function:{name}}` and required `allowed_tools`. */
function toToolChoice(choice: unknown): ToolChoice | undefined {
  if (choice === "required") return { type: "any" };
  if (typeof choice !== "object" || choice === null) return undefined;
  const c = choice as {
    type?: unknown;
    name?: unknown;
    function?: { name?: unknown };
    allowed_tools?: { mode?: unknown };
    mode?: unknown;
  };
  const name = c.function?.name ?? c.name;
  if (c.type === "function" && typeof name === "string" && name !== "") {
    return { type: "tool", name };
  }
  if (c.type === "allowed_tools" && (c.allowed_tools?.mode ?? c.mode) === "required") {
    return { type: "any" };
  }
  return undefined;
}

async function toUserMessage(
  message: OpenAiMessage,
  path: string,
  options: ToChatRequestOptions,
): Promise<ChatMessage> {
  const user = emptyMessage("user");
  user.text = textOf(message.content);
  user.images = await readImages(message.content, `${path}.content`, options);
  // Anthropic-style tool_result parts inside a user message (spec §7.4 step 4).
  for (const [partIndex, part] of partsOf(message.content).entries()) {
    if (typeof part === "string" || part.type !== "tool_result") continue;
    user.toolResults.push({
      toolUseId: part.tool_use_id ?? "",
      content: textOf(part.content as OpenAiContent),
      isError: part.is_error ?? false,
    });
    const nested = `${path}.content.${partIndex}.content`;
    user.images.push(...await readImages(part.content as OpenAiContent, nested, options));
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
    else if (part.type === "refusal" && typeof part.refusal === "string") text += part.refusal;
    else if (!NON_TEXT_PARTS.has(part.type) && typeof part.text === "string") text += part.text;
  }
  return text;
}

/** The images of content parts, URLs fetched under the configured policy. */
async function readImages(
  content: OpenAiContent,
  path: string,
  options: ToChatRequestOptions,
): Promise<ChatImage[]> {
  if (!Array.isArray(content)) return [];
  const images: ChatImage[] = [];
  for (const [index, part] of content.entries()) {
    if (typeof part === "string" || part.type !== "image_url" || !part.image_url) continue;
    const url = typeof part.image_url === "string" ? part.image_url : part.image_url.url;
    const param = `${path}.${index}.image_url${typeof part.image_url === "string" ? "" : ".url"}`;
    const image = await readImageUrl(url.trim(), param, options);
    if (image) images.push(image);
  }
  return images;
}

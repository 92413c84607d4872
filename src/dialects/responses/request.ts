/**
 * Converts a validated Responses body into a ChatRequest (spec §7.7) and remembers, per
 * upstream tool name, how a call to it is rendered back (function, custom, local shell,
 * namespace).
 *
 * Choices beyond the spec:
 * - `instructions`, then `system` and `developer` messages in order, form the system prompt,
 *   joined by blank lines (developer messages are instructions, as in the chat dialect).
 * - A `custom` (freeform) tool goes upstream as a function with one string field `input`, its
 *   grammar appended to the description; a call comes back as `custom_tool_call` with that
 *   string as its raw `input`.
 * - A `namespace` tool's inner tools go upstream as `<namespace>__<name>` (or the namespace
 *   followed by the name when the namespace already ends in `_`); calls come back with the
 *   bare name and `namespace`.
 * - `reasoning` items are never sent as text. One whose `encrypted_content` the gateway made
 *   (Kiro's signature or redacted reasoning, spec §8.6) goes back to Kiro with the assistant
 *   turn that follows it, its summary text as the reasoning; others are dropped.
 * - `tool_choice: "none"` sends no tools; `required` and a named tool are carried on the
 *   ChatRequest as `toolChoice`; `text.format` as `responseFormat`; `prompt_cache_key` as
 *   `promptCacheKey`.
 * - A `web_search` tool (any `web_search*` type) turns on the gateway's web search loop
 *   (core/web_search.ts); the searches come back as `web_search_call` items. Codex declares
 *   it in every request, so it counts as implicit: with WEB_SEARCH=off it is left out rather
 *   than refused. `external_web_access: false` (Codex's default "cached" mode: no live page
 *   fetches) is served the same way, since Kiro's search answers from its own index and the
 *   gateway fetches no pages; `filters.allowed_domains` filters the results.
 * - `web_search_call` items in the input become assistant text naming the query, so the model
 *   knows what it searched; their results are not in the item (the answer after them is).
 * - Item types the gateway does not know (`compaction`, `item_reference`…) are dropped, never
 *   rejected.
 */
import type { Config } from "../../config.ts";
import {
  type ChatImage,
  type ChatMessage,
  type ChatRequest,
  emptyMessage,
  type ResponseFormat,
  type SignedReasoning,
  type ToolCall,
  type ToolChoice,
  type ToolDefinition,
  type WebSearchSettings,
} from "../../core/chat.ts";
import { readImageUrl } from "../../core/image_url.ts";
import type { ImageFetcher } from "../../core/images.ts";
import { fromClientRedacted, fromClientSignature } from "../../core/signatures.ts";
import { thinkingFromEffort } from "../../core/thinking_budget.ts";
import { toToolArguments } from "../../core/tool_args.ts";
import { GatewayError } from "../../errors.ts";
import {
  type CustomTool,
  type CustomToolCallItem,
  type CustomToolCallOutputItem,
  type FunctionCallItem,
  type FunctionCallOutputItem,
  type FunctionTool,
  type InputItem,
  itemType,
  type LocalShellCallItem,
  type LocalShellCallOutputItem,
  type MessageItem,
  type NamespaceTool,
  type ReasoningItem,
  type ResponsesBody,
  type ResponsesContent,
  type ResponsesTool,
  type ResponsesToolOutput,
} from "./schema.ts";

/** The name of the upstream function that stands for the `local_shell` tool. */
export const LOCAL_SHELL_TOOL = "local_shell";

/** The one string field of the function a freeform `custom` tool is sent as. */
export const CUSTOM_INPUT_FIELD = "input";

/** How a call to one upstream tool name is rendered in the output. */
export type CallKind =
  | { kind: "function"; name: string; namespace?: string }
  | { kind: "custom"; name: string; namespace?: string }
  | { kind: "local_shell" };

/** The request as Kiro gets it and what the reply renderer needs to know about its tools. */
export interface ResponsesChat {
  chat: ChatRequest;
  /** Upstream tool name → how its calls are rendered; unknown names are plain functions. */
  calls: ReadonlyMap<string, CallKind>;
  /** The input items in order (previous response's items first), for the store. */
  items: InputItem[];
}

/** Options of toChatRequest. */
export interface ToChatRequestOptions {
  config: Readonly<Config>;
  /** Items of the stored conversation `previous_response_id` names, oldest first. */
  history?: InputItem[];
  /** The client's request signal: leaving cancels image fetches. */
  signal?: AbortSignal;
  /** Makes the HTTP requests of image fetches instead of `fetch` (tests). */
  fetchImage?: ImageFetcher;
}

/** The qualified upstream name of tool `name` inside `namespace`. */
export function qualifiedName(namespace: string | null | undefined, name: string): string {
  if (!namespace) return name;
  return namespace.endsWith("_") ? `${namespace}${name}` : `${namespace}__${name}`;
}

/**
 * Builds the neutral request. Throws an `invalid_request` GatewayError naming the field when
 * an image cannot be used or when there is nothing to send.
 */
export async function toChatRequest(
  body: ResponsesBody,
  options: ToChatRequestOptions,
): Promise<ResponsesChat> {
  const own: InputItem[] = typeof body.input === "string"
    ? [{ type: "message", role: "user", content: body.input }]
    : body.input ?? [];
  const history = options.history ?? [];
  const items = [...history, ...own];
  const system: string[] = body.instructions ? [body.instructions] : [];
  const messages: ChatMessage[] = [];
  /** Signed reasoning of a reasoning item, for the assistant turn that follows it. */
  let pendingReasoning: SignedReasoning | undefined;
  const turn = (role: ChatMessage["role"]): ChatMessage => {
    const last = messages.at(-1);
    const message = last?.role === role ? last : emptyMessage(role);
    if (message !== last) messages.push(message);
    if (role === "assistant" && pendingReasoning) message.reasoning ??= pendingReasoning;
    pendingReasoning = undefined;
    return message;
  };
  for (const [index, item] of items.entries()) {
    // Paths name the client's own items; stored history comes before them.
    const path = `input.${index - history.length}`;
    switch (itemType(item)) {
      case "message": {
        const message = item as MessageItem;
        const text = textOf(message.content);
        if (message.role === "system" || message.role === "developer") {
          if (text !== "") system.push(text);
          break;
        }
        if (message.role === "assistant") {
          appendText(turn("assistant"), text);
          break;
        }
        const user = turn("user");
        appendText(user, text);
        user.images.push(...await readImages(message.content, `${path}.content`, options));
        break;
      }
      case "function_call": {
        const call = item as FunctionCallItem;
        turn("assistant").toolCalls.push({
          id: call.call_id,
          name: qualifiedName(call.namespace, call.name),
          input: toToolInput(call.arguments),
        });
        break;
      }
      case "custom_tool_call": {
        const call = item as CustomToolCallItem;
        turn("assistant").toolCalls.push({
          id: call.call_id,
          name: qualifiedName(call.namespace, call.name),
          input: { [CUSTOM_INPUT_FIELD]: call.input ?? "" },
        });
        break;
      }
      case "local_shell_call": {
        const call = item as LocalShellCallItem;
        turn("assistant").toolCalls.push(toShellCall(call));
        break;
      }
      case "function_call_output":
      case "custom_tool_call_output":
      case "local_shell_call_output": {
        const output = item as
          | FunctionCallOutputItem
          | CustomToolCallOutputItem
          | LocalShellCallOutputItem;
        const user = turn("user");
        user.toolResults.push({
          toolUseId: output.call_id ?? (typeof output.id === "string" ? output.id : ""),
          content: outputText(output.output),
          isError: false,
        });
        user.images.push(...await readImages(output.output, `${path}.output`, options));
        break;
      }
      case "web_search_call": {
        const query = searchQueryOf(item);
        if (query) appendText(turn("assistant"), `(Searched the web for "${query}".)`);
        break;
      }
      case "reasoning":
        pendingReasoning = toSignedReasoning(item as ReasoningItem);
        break;
      default:
        // item_reference, compaction and unknown types.
        break;
    }
  }
  if (messages.length === 0) {
    throw new GatewayError("invalid_request", "Invalid request: input: nothing to send", {
      param: "input",
    });
  }

  const { tools, calls } = toToolDefinitions(body.tools ?? []);
  const chat: ChatRequest = {
    model: body.model,
    system: system.join("\n\n").trim(),
    messages,
    tools: body.tool_choice === "none" ? [] : tools,
    thinking: thinkingFromEffort(
      body.reasoning?.effort ?? undefined,
      body.max_output_tokens ?? undefined,
      options.config,
    ),
    stream: body.stream ?? false,
  };
  if (body.max_output_tokens) chat.maxOutputTokens = body.max_output_tokens;
  if (body.prompt_cache_key) chat.promptCacheKey = body.prompt_cache_key.slice(0, 200);
  const responseFormat = toResponseFormat(body.text?.format);
  if (responseFormat) chat.responseFormat = responseFormat;
  const webSearch = body.tool_choice === "none" ? undefined : toWebSearch(body.tools ?? []);
  if (webSearch) chat.webSearch = webSearch;
  const toolChoice = toToolChoice(body.tool_choice);
  if (toolChoice && chat.tools.length > 0) chat.toolChoice = toolChoice;
  return { chat, calls, items };
}

/** The web search a `web_search*` tool asks for (see the module comment). */
function toWebSearch(tools: ResponsesTool[]): WebSearchSettings | undefined {
  const tool = tools.find((candidate) => candidate.type.startsWith("web_search"));
  if (!tool) return undefined;
  const settings: WebSearchSettings = { mode: "loop", implicit: true };
  const allowed = (tool.filters as { allowed_domains?: unknown } | null | undefined)
    ?.allowed_domains;
  if (Array.isArray(allowed)) {
    const domains = allowed.filter((domain): domain is string => typeof domain === "string");
    if (domains.length > 0) settings.allowedDomains = domains;
  }
  return settings;
}

/** The query of a `web_search_call` input item, when it has one. */
function searchQueryOf(item: InputItem): string | undefined {
  const action = (item as { action?: { query?: unknown } | null }).action;
  return typeof action?.query === "string" && action.query.trim() !== ""
    ? action.query.trim()
    : undefined;
}

/** The reasoning of an item whose encrypted_content the gateway made; undefined for others. */
function toSignedReasoning(item: ReasoningItem): SignedReasoning | undefined {
  const data = fromClientRedacted(item.encrypted_content);
  if (data !== undefined) return { type: "redacted", data };
  const signature = fromClientSignature(item.encrypted_content);
  if (signature === undefined) return undefined;
  const text = (item.summary ?? []).map((part) => part.text ?? "").join("");
  return { type: "text", text, signature };
}

function appendText(message: ChatMessage, text: string): void {
  if (text === "") return;
  message.text = message.text === "" ? text : `${message.text}\n\n${text}`;
}

/** The text of message content: strings and the text of text-like parts, joined. */
export function textOf(content: ResponsesContent | undefined | null): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  const texts: string[] = [];
  for (const part of content) {
    // Parts of other types that carry text are text too (the schema refused the rest).
    if (part.type === "refusal" && typeof part.refusal === "string") texts.push(part.refusal);
    else if (part.type !== "input_image" && typeof part.text === "string") texts.push(part.text);
  }
  return texts.join("\n");
}

function outputText(output: ResponsesToolOutput): string {
  if (output === null || output === undefined) return "";
  return typeof output === "string" ? output : textOf(output);
}

/** Parses history arguments; text that is not a JSON object is kept under `_raw`. */
function toToolInput(args: string | null | undefined): Record<string, unknown> {
  if (args === null || args === undefined || args.trim() === "") return {};
  const result = toToolArguments(args);
  if (result.ok) return JSON.parse(result.arguments) as Record<string, unknown>;
  return { _raw: args };
}

function toShellCall(call: LocalShellCallItem): ToolCall {
  const input: Record<string, unknown> = { command: call.action.command };
  if (call.action.working_directory) input.workdir = call.action.working_directory;
  if (typeof call.action.timeout_ms === "number") input.timeout_ms = call.action.timeout_ms;
  return { id: call.call_id ?? call.id ?? "", name: LOCAL_SHELL_TOOL, input };
}

const LOCAL_SHELL_DEFINITION: ToolDefinition = {
  name: LOCAL_SHELL_TOOL,
  description: "Runs a command on the user's machine and returns its output.",
  inputSchema: {
    type: "object",
    properties: {
      command: {
        type: "array",
        items: { type: "string" },
        description: 'The program and its arguments, e.g. ["bash", "-lc", "ls"]',
      },
      workdir: { type: "string", description: "The working directory" },
      timeout_ms: { type: "integer", description: "A time limit in milliseconds" },
    },
    required: ["command"],
  },
};

function toToolDefinitions(
  tools: ResponsesTool[],
): { tools: ToolDefinition[]; calls: Map<string, CallKind> } {
  const definitions: ToolDefinition[] = [];
  const calls = new Map<string, CallKind>();
  const add = (tool: ResponsesTool, namespace?: string) => {
    if (tool.type === "function") {
      const fn = tool as FunctionTool;
      const name = qualifiedName(namespace, fn.name);
      definitions.push({
        name,
        description: fn.description ?? "",
        inputSchema: fn.parameters ?? { type: "object", properties: {} },
      });
      calls.set(name, { kind: "function", name: fn.name, ...(namespace ? { namespace } : {}) });
    } else if (tool.type === "custom") {
      const custom = tool as CustomTool;
      const name = qualifiedName(namespace, custom.name);
      definitions.push(toCustomDefinition(name, custom));
      calls.set(name, { kind: "custom", name: custom.name, ...(namespace ? { namespace } : {}) });
    } else if (tool.type === "local_shell" && !namespace) {
      definitions.push(LOCAL_SHELL_DEFINITION);
      calls.set(LOCAL_SHELL_TOOL, { kind: "local_shell" });
    } else if (tool.type === "namespace" && !namespace) {
      const group = tool as NamespaceTool;
      for (const inner of group.tools) add(inner as ResponsesTool, group.name);
    }
    // web_search, image_generation, file_search and unknown types: Kiro cannot serve them.
  };
  for (const tool of tools) add(tool);
  return { tools: definitions, calls };
}

function toCustomDefinition(name: string, tool: CustomTool): ToolDefinition {
  const parts = [tool.description?.trim() || `Tool: ${name}`];
  parts.push(
    `Put the tool's whole input, as raw text and not JSON, in the string field ` +
      `"${CUSTOM_INPUT_FIELD}".`,
  );
  const format = tool.format;
  if (format?.type === "grammar" && format.definition) {
    const syntax = format.syntax ? `${format.syntax} ` : "";
    parts.push(`The input must follow this ${syntax}grammar:\n\n${format.definition}`);
  }
  return {
    name,
    description: parts.join("\n\n"),
    inputSchema: {
      type: "object",
      properties: {
        [CUSTOM_INPUT_FIELD]: { type: "string", description: "The raw input text" },
      },
      required: [CUSTOM_INPUT_FIELD],
    },
  };
}

function toResponseFormat(
  format: NonNullable<ResponsesBody["text"]>["format"],
): ResponseFormat | undefined {
  if (!format) return undefined;
  if (format.type === "json_object") return { type: "json_object" };
  if (format.type === "json_schema" && format.schema) {
    const result: ResponseFormat = { type: "json_schema", schema: format.schema };
    if (format.name) result.name = format.name;
    if (typeof format.description === "string") result.description = format.description;
    if (typeof format.strict === "boolean") result.strict = format.strict;
    return result;
  }
  return undefined;
}

function toToolChoice(choice: ResponsesBody["tool_choice"]): ToolChoice | undefined {
  if (!choice || choice === "auto" || choice === "none") return undefined;
  if (choice === "required") return { type: "any" };
  if ((choice.type === "function" || choice.type === "custom") && choice.name) {
    const namespace = typeof choice.namespace === "string" ? choice.namespace : undefined;
    return { type: "tool", name: qualifiedName(namespace, choice.name) };
  }
  if (choice.type === "allowed_tools" && choice.mode === "required") return { type: "any" };
  return undefined;
}

/** The images of content parts, URLs fetched under the configured policy. */
async function readImages(
  content: ResponsesContent | null | undefined,
  path: string,
  options: ToChatRequestOptions,
): Promise<ChatImage[]> {
  if (!Array.isArray(content)) return [];
  const images: ChatImage[] = [];
  for (const [index, part] of content.entries()) {
    if (part.type !== "input_image" || typeof part.image_url !== "string") continue;
    const image = await readImageUrl(part.image_url.trim(), `${path}.${index}.image_url`, options);
    if (image) images.push(image);
  }
  return images;
}

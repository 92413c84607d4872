/**
 * The neutral chat model. Dialects convert their request bodies into a ChatRequest and render
 * ChatEvents back into their own JSON or SSE; the Kiro side never sees a dialect type.
 */
import type { GatewayError } from "../errors.ts";

/** An image as base64 bytes with its media type (`image/png`). */
export interface ChatImage {
  mediaType: string;
  /** Base64 without any `data:` prefix. */
  data: string;
}

/** A tool call made by the assistant. */
export interface ToolCall {
  id: string;
  /** The client's own tool name (aliasing for Kiro happens in the request builder). */
  name: string;
  /** The parsed arguments object. */
  input: Record<string, unknown>;
}

/** The result of a tool call, sent back by the client. */
export interface ToolResult {
  toolUseId: string;
  /** The result flattened to text; `""` when the tool returned nothing. */
  content: string;
  isError: boolean;
}

/** One turn of the conversation after dialect conversion. */
export interface ChatMessage {
  role: "user" | "assistant";
  /** The visible text of the turn (thinking from history is not included). */
  text: string;
  images: ChatImage[];
  /** Assistant turns only. */
  toolCalls: ToolCall[];
  /** User turns only. */
  toolResults: ToolResult[];
}

/** A tool the model may call, in the client's names. */
export interface ToolDefinition {
  name: string;
  description: string;
  /** A JSON schema object; sanitizing for Kiro happens in the request builder. */
  inputSchema: Record<string, unknown>;
}

/** Whether and how much the model should think before answering. */
export interface ThinkingSettings {
  enabled: boolean;
  /** The thinking budget in tokens, already capped by FAKE_REASONING_BUDGET_CAP. */
  budgetTokens: number;
}

/**
 * Structured output the client asked for (OpenAI `response_format`, Anthropic
 * `output_config.format`, Responses `text.format`). Kiro has no such field: the request builder
 * turns it into a system-prompt instruction and the reply's code fence is unwrapped.
 */
export type ResponseFormat =
  | { type: "json_object" }
  | {
    type: "json_schema";
    /** The JSON schema the answer must match. */
    schema: Record<string, unknown>;
    name?: string;
    description?: string;
    strict?: boolean;
  };

/**
 * A tool use the client forced (OpenAI `required` or a named function, Anthropic `any` or
 * `tool`). Kiro cannot force one: the request builder turns it into an instruction. `auto`
 * is the absence of this field; `none` is expressed by sending no tools.
 */
export type ToolChoice = { type: "any" } | { type: "tool"; name: string };

/** A dialect-neutral chat request. */
export interface ChatRequest {
  /** The model string exactly as the client sent it (echoed back in replies). */
  model: string;
  system: string;
  messages: ChatMessage[];
  tools: ToolDefinition[];
  thinking: ThinkingSettings;
  /** The client's output limit, when it gave one (not forwarded; Kiro has no such control). */
  maxOutputTokens?: number;
  /** Whether the client wants a stream (the upstream call always streams). */
  stream: boolean;
  /** Structured output the client asked for, when it did. */
  responseFormat?: ResponseFormat;
  /** The tool use the client forced, when it did. */
  toolChoice?: ToolChoice;
  /**
   * The client's `prompt_cache_key` (OpenAI), when it sent one: the account pool keeps one
   * conversation on one account by it.
   */
  promptCacheKey?: string;
}

/** Why the model stopped. */
export type StopReason = "end_turn" | "tool_use" | "max_tokens";

/** Token counts and credits for one reply. Token counts are estimates (see README). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Kiro credits charged, when a metering event arrived. */
  credits?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
}

/**
 * One event of a reply, in order. Text and reasoning arrive as deltas; a tool call arrives
 * whole, once its arguments are complete and valid JSON; `end` comes last unless `error` does.
 */
export type ChatEvent =
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  | { type: "tool_call"; id: string; name: string; arguments: string }
  | { type: "end"; stopReason: StopReason; usage: Usage }
  | { type: "error"; error: GatewayError };

/** Returns an empty message of `role`, to fill in field by field. */
export function emptyMessage(role: ChatMessage["role"]): ChatMessage {
  return { role, text: "", images: [], toolCalls: [], toolResults: [] };
}

/**
 * The neutral chat model. Dialects convert their request bodies into a ChatRequest and render
 * ChatEvents back into their own JSON or SSE; the Kiro side never sees a dialect type.
 */
import { GatewayError } from "../errors.ts";

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

/**
 * Reasoning of an earlier reply that Kiro signed, as Kiro sent it: the text with its
 * signature, or redacted content. Only reasoning the gateway itself produced is ever put here
 * (see src/core/signatures.ts); unsigned or foreign reasoning is dropped by the dialects.
 */
export type SignedReasoning =
  | { type: "text"; text: string; signature: string }
  | { type: "redacted"; data: string };

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
  /** Assistant turns only: signed reasoning to hand back to Kiro with this turn. */
  reasoning?: SignedReasoning;
}

/** A tool the model may call, in the client's names. */
export interface ToolDefinition {
  name: string;
  description: string;
  /** A JSON schema object; sanitizing for Kiro happens in the request builder. */
  inputSchema: Record<string, unknown>;
}

/**
 * Reasoning effort levels from least to most, as clients name them (OpenAI `reasoning_effort`,
 * Responses `reasoning.effort`, Anthropic `output_config.effort`). Kiro models advertise a
 * subset; the request builder clamps to it (spec §8.6).
 */
export const REASONING_EFFORTS = ["minimal", "low", "medium", "high", "xhigh", "max"] as const;

/** One of REASONING_EFFORTS. */
export type ReasoningEffort = typeof REASONING_EFFORTS[number];

/**
 * Whether and how much the model should think before answering. Every dialect fills both
 * forms: `budgetTokens` for models that think in injected `<thinking>` tags, `effort` for models
 * that reason natively (spec §8.6).
 */
export interface ThinkingSettings {
  /** Whether the client wants thinking (FAKE_REASONING governs only the tag mechanism). */
  enabled: boolean;
  /** The thinking budget in tokens, already capped by FAKE_REASONING_BUDGET_CAP. */
  budgetTokens: number;
  /**
   * The effort the client asked for, when it named one (or gave a budget that maps to one);
   * undefined lets the model use its advertised default. May be a level outside
   * REASONING_EFFORTS: the clamp then picks the model's highest level.
   */
  effort?: string;
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
/** The web search a client asked the gateway to run for the model (spec §7.8). */
export interface WebSearchSettings {
  /**
   * `direct`: answer with the search alone, never calling the model (Claude Code's WebSearch
   * sub-request, whose only tool is the server tool); `loop`: offer the model a search tool
   * and run its searches until it answers.
   */
  mode: "direct" | "loop";
  /** Searches allowed in one reply (Anthropic `max_uses`); the loop caps rounds at 5 anyway. */
  maxUses?: number;
  /** Only results from these domains (and their subdomains) are kept. */
  allowedDomains?: string[];
  /** Results from these domains (and their subdomains) are dropped. */
  blockedDomains?: string[];
  /**
   * True when the client did not really ask (Codex declares a `web_search` tool in every
   * request): with WEB_SEARCH=off the search is then left out instead of refused.
   */
  implicit?: boolean;
}

/** One web search result. */
export interface WebSearchHit {
  title: string;
  url: string;
  snippet: string;
  /** When the page was published, in epoch milliseconds, when known. */
  publishedAt?: number;
}

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
  /** Set when the client asked for web search (see core/web_search.ts). */
  webSearch?: WebSearchSettings;
}

/** Why the model stopped. */
export type StopReason = "end_turn" | "tool_use" | "max_tokens";

/**
 * Token counts and credits for one reply: Kiro's own counts when its metadata carried them,
 * else local estimates of the client's input and the reply (see README).
 */
export interface Usage {
  /** All input tokens, cached ones included (Anthropic's `input_tokens` excludes those). */
  inputTokens: number;
  /** All output tokens, reasoning included. */
  outputTokens: number;
  /** Kiro credits charged, when a metering event arrived. */
  credits?: number;
  /** Input tokens read from Kiro's prompt cache, when Kiro reported them. */
  cacheReadInputTokens?: number;
  /** Input tokens written to Kiro's prompt cache, when Kiro reported them. */
  cacheCreationInputTokens?: number;
  /** The share of outputTokens spent on reasoning, when the reply reasoned. */
  reasoningTokens?: number;
  /** Web searches the gateway ran for this reply, when it ran any. */
  webSearchRequests?: number;
}

/**
 * One event of a reply, in order. Text and reasoning arrive as deltas; a tool call arrives
 * whole, once its arguments are complete and valid JSON; web searches the gateway runs arrive
 * as a call and its result; `end` comes last unless `error` does.
 */
export type ChatEvent =
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  /**
   * Ends the reasoning before it: Kiro signed it. `signature` is marked as the gateway's (see
   * src/core/signatures.ts), so a client that sends it back is recognized.
   */
  | { type: "reasoning_signature"; signature: string }
  /** Reasoning Kiro withheld, marked like a signature; a block of its own. */
  | { type: "redacted_reasoning"; data: string }
  | { type: "tool_call"; id: string; name: string; arguments: string }
  /** The gateway starts a web search for the model (`srvtoolu_…` id). */
  | { type: "web_search_call"; id: string; query: string }
  /** The search of the call with `id` ended: its results, or why it failed (never invented). */
  | {
    type: "web_search_result";
    id: string;
    results: WebSearchHit[];
    /** Set when the search failed: `unavailable` (MCP error) or `max_uses_exceeded`. */
    error?: { code: "unavailable" | "max_uses_exceeded"; message: string };
  }
  | { type: "end"; stopReason: StopReason; usage: Usage }
  | { type: "error"; error: GatewayError };

/** Returns an empty message of `role`, to fill in field by field. */
export function emptyMessage(role: ChatMessage["role"]): ChatMessage {
  return { role, text: "", images: [], toolCalls: [], toolResults: [] };
}

/**
 * The error for a reply stream that stopped without its `end` or `error` event: every dialect
 * and the non-streaming fold report it the same way, as a reply that broke off upstream.
 */
export function replyEndedEarly(): GatewayError {
  return new GatewayError("upstream_protocol", "Kiro reply ended without an end event");
}

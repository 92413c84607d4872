/**
 * Responses reply JSON: the `response` object (also inside the stream's `response.*` events),
 * its output items and usage with all five integers Codex requires (spec §7.7).
 */
import type { StopReason, Usage, WebSearchHit } from "../../core/chat.ts";
import type { CollectedReply } from "../../core/collect.ts";
import { toToolArguments } from "../../core/tool_args.ts";
import { type CallKind, CUSTOM_INPUT_FIELD } from "./request.ts";
import type { ResponsesBody } from "./schema.ts";

/** Usage in the Responses shape. */
export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** One output item (`message`, `reasoning`, `function_call`, `custom_tool_call`…). */
export type OutputItem = Record<string, unknown> & { type: string; id: string };

/** The error of a failed response. */
export interface ResponseError {
  code: string;
  message: string;
}

/** What every rendering of one response shares. */
export interface ResponseContext {
  /** `resp_` + 48 hex. */
  id: string;
  /** Unix seconds. */
  createdAt: number;
  /** The validated request body, echoed back as the official API does. */
  body: ResponsesBody;
  /** How calls to each upstream tool name are rendered. */
  calls: ReadonlyMap<string, CallKind>;
  /** Makes an item id: `prefix` + random hex. */
  newId: (prefix: string) => string;
}

/** The status of a response, its output so far and, when it failed, why. */
export interface ResponseEnd {
  status: "completed" | "incomplete" | "failed" | "in_progress";
  output: OutputItem[];
  usage?: Usage;
  error?: ResponseError;
  stopReason?: StopReason;
}

/** Renders neutral usage with every field Codex requires, as integers. */
export function toResponsesUsage(usage: Usage): ResponsesUsage {
  const input = Math.max(0, Math.round(usage.inputTokens));
  const output = Math.max(0, Math.round(usage.outputTokens));
  const cached = Math.min(input, Math.max(0, Math.round(usage.cacheReadInputTokens ?? 0)));
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: output,
    output_tokens_details: {
      reasoning_tokens: Math.max(0, Math.round(usage.reasoningTokens ?? 0)),
    },
    total_tokens: input + output,
  };
}

/** The `response` object with `output` and the request's settings echoed. */
export function buildResponseObject(
  ctx: ResponseContext,
  end: ResponseEnd,
): Record<string, unknown> {
  const { body } = ctx;
  const incomplete = end.status === "incomplete";
  return {
    id: ctx.id,
    object: "response",
    created_at: ctx.createdAt,
    status: end.status,
    background: false,
    error: end.error ?? null,
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    model: body.model,
    output: end.output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: {
      effort: body.reasoning?.effort ?? null,
      summary: body.reasoning?.summary ?? null,
    },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: "disabled",
    usage: end.usage ? toResponsesUsage(end.usage) : null,
    user: null,
  };
}

/** The status a finished reply gets: cut off by an output limit is `incomplete`. */
export function statusOf(stopReason: StopReason): "completed" | "incomplete" {
  return stopReason === "max_tokens" ? "incomplete" : "completed";
}

/** A completed assistant message item. */
export function messageItem(id: string, text: string): OutputItem {
  return {
    id,
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text, annotations: [], logprobs: [] }],
  };
}

/**
 * A finished web search the gateway ran, as a `web_search_call` item: `failed` when the
 * search failed (no sources are made up), else `completed` with the result URLs as sources.
 */
export function webSearchCallItem(
  id: string,
  search: { query: string; results: WebSearchHit[]; error?: unknown },
): OutputItem {
  return {
    id,
    type: "web_search_call",
    status: search.error ? "failed" : "completed",
    action: {
      type: "search",
      query: search.query,
      sources: search.results.map((hit) => ({ type: "url", url: hit.url })),
    },
  };
}

/** The `include` value that asks for reasoning items' `encrypted_content`. */
export const ENCRYPTED_REASONING = "reasoning.encrypted_content";

/** Whether the request's `include` asks for reasoning items' `encrypted_content`. */
export function includesEncryptedReasoning(ctx: Pick<ResponseContext, "body">): boolean {
  return ctx.body.include?.includes(ENCRYPTED_REASONING) ?? false;
}

/**
 * A reasoning item with its summary text (none for redacted reasoning) and, when given, the
 * `encrypted_content` carrying Kiro's signature or redacted reasoning, marked as the gateway's.
 */
export function reasoningItem(
  { id, text, encrypted }: { id: string; text: string; encrypted?: string },
): OutputItem {
  const item: OutputItem = {
    id,
    type: "reasoning",
    summary: text === "" ? [] : [{ type: "summary_text", text }],
  };
  if (encrypted !== undefined) item.encrypted_content = encrypted;
  return item;
}

/** A tool call as the output item (with id `itemId`) its tool's kind asks for. */
export function callItem(
  ctx: Pick<ResponseContext, "calls">,
  call: { itemId: string; id: string; name: string; arguments: string },
): OutputItem {
  const id = call.itemId;
  const kind = ctx.calls.get(call.name) ?? { kind: "function", name: call.name };
  const args = call.arguments.trim() === "" ? "{}" : call.arguments;
  if (kind.kind === "custom") {
    return {
      id,
      type: "custom_tool_call",
      status: "completed",
      call_id: call.id,
      name: kind.name,
      input: customInput(args),
      ...(kind.namespace ? { namespace: kind.namespace } : {}),
    };
  }
  if (kind.kind === "local_shell") {
    const input = parseObject(args);
    const command = Array.isArray(input.command)
      ? input.command.map(String)
      : typeof input.command === "string"
      ? ["bash", "-lc", input.command]
      : [];
    return {
      id,
      type: "local_shell_call",
      status: "completed",
      call_id: call.id,
      action: {
        type: "exec",
        command,
        working_directory: typeof input.workdir === "string" ? input.workdir : null,
        timeout_ms: typeof input.timeout_ms === "number" ? input.timeout_ms : null,
        env: {},
        user: null,
      },
    };
  }
  return {
    id,
    type: "function_call",
    status: "completed",
    arguments: args,
    call_id: call.id,
    name: kind.name,
    ...(kind.namespace ? { namespace: kind.namespace } : {}),
  };
}

/** The item id prefix of a call to `name`. */
export function callItemPrefix(ctx: Pick<ResponseContext, "calls">, name: string): string {
  const kind = ctx.calls.get(name)?.kind;
  return kind === "custom" ? "ctc_" : kind === "local_shell" ? "lsh_" : "fc_";
}

/**
 * The raw input of a freeform call: the wrapper's string field, or the only string field the
 * model used instead, or the arguments text itself.
 */
function customInput(args: string): string {
  const input = parseObject(args);
  if (typeof input[CUSTOM_INPUT_FIELD] === "string") return input[CUSTOM_INPUT_FIELD];
  const strings = Object.values(input).filter((value) => typeof value === "string");
  if (strings.length === 1) return strings[0] as string;
  return args;
}

function parseObject(args: string): Record<string, unknown> {
  const result = toToolArguments(args);
  return result.ok ? JSON.parse(result.arguments) as Record<string, unknown> : {};
}

/** Builds the non-streaming response for a collected reply. */
export function buildResponse(
  reply: CollectedReply,
  ctx: ResponseContext,
): { response: Record<string, unknown>; output: OutputItem[] } {
  const output: OutputItem[] = [];
  const encrypted = includesEncryptedReasoning(ctx);
  for (const block of reply.reasoningBlocks) {
    if (block.type === "redacted") {
      if (encrypted) {
        output.push(reasoningItem({ id: ctx.newId("rs_"), text: "", encrypted: block.data }));
      }
    } else if (block.text !== "" || (encrypted && block.signature !== undefined)) {
      const content = encrypted ? block.signature : undefined;
      output.push(reasoningItem({ id: ctx.newId("rs_"), text: block.text, encrypted: content }));
    }
  }
  if (reply.segments.length === 0 && reply.text !== "") {
    output.push(messageItem(ctx.newId("msg_"), reply.text));
  }
  // With web searches, the texts of the rounds and the searches keep their order.
  for (const segment of reply.segments) {
    if (segment.type === "web_search") {
      output.push(webSearchCallItem(ctx.newId("ws_"), segment.search));
    } else if (segment.text !== "") {
      output.push(messageItem(ctx.newId("msg_"), segment.text));
    }
  }
  const calls = ctx.body.parallel_tool_calls === false
    ? reply.toolCalls.slice(0, 1)
    : reply.toolCalls;
  for (const call of calls) {
    output.push(callItem(ctx, { ...call, itemId: ctx.newId(callItemPrefix(ctx, call.name)) }));
  }
  const response = buildResponseObject(ctx, {
    output,
    status: statusOf(reply.stopReason),
    usage: reply.usage,
  });
  return { response, output };
}

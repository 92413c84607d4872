/**
 * The reply side of the core: typed Kiro events become neutral ChatEvents. Text streams through
 * at once; tool calls are assembled per toolUseId and delivered whole, only when their
 * arguments are a JSON object; the stop reason and usage are settled when the input ends.
 */
import type { KiroEvent } from "../kiro/events.ts";
import type { Logger } from "../log.ts";
import { findBracketCalls } from "./bracket_calls.ts";
import type { ChatEvent, StopReason, Usage } from "./chat.ts";
import { randomHex } from "./ids.ts";
import { toClientRedacted, toClientSignature } from "./signatures.ts";
import type { TokenCounter } from "./tokens.ts";
import { TRUNCATION_TEXT_KEY_CHARS } from "./truncation.ts";
import { type ToolArgumentsDiagnosis, toToolArguments } from "./tool_args.ts";
import { TextParts } from "./text_parts.ts";

/** Maps Kiro's tool names back to the client's (the request builder may have aliased them). */
export interface ToolNameMap {
  fromKiro(name: string): string;
}

/** What is remembered about a tool call that Kiro cut off. */
export interface TruncatedToolInfo {
  /** The client's tool name. */
  name: string;
  reason: string;
  sizeBytes: number;
}

/** Where truncations are remembered so the next request can tell the model (spec §9.1). */
export interface TruncationMemory {
  /**
   * The visible text of a reply cut off; only its first TRUNCATION_TEXT_KEY_CHARS characters
   * are given (all the memory's key uses).
   */
  rememberText(text: string): void;
  rememberTool(id: string, info: TruncatedToolInfo): void;
}

/** Options of a ReplyEventStream. */
export interface ReplyEventStreamOptions {
  counter: TokenCounter;
  /**
   * The local estimate of the client's input tokens (what count_tokens says), used when Kiro's
   * metadata reports no input count; called only then, because counting a long conversation
   * takes milliseconds. Kiro's context-usage percentage is not used: it counts the gateway's
   * own additions too, so it would disagree with count_tokens and message_start.
   */
  estimateInputTokens: () => number;
  toolNames?: ToolNameMap;
  /** Set when truncation recovery is on. */
  truncation?: TruncationMemory;
  /**
   * The request's tool names (the client's). When given, calls the model wrote as text,
   * `[Called name with args: {…}]`, to one of these tools become tool calls at the end.
   */
  declaredTools?: ReadonlySet<string>;
  logger?: Logger;
}

interface OpenToolCall {
  kiroName: string;
  parts: string[];
}

const MAX_TOKENS_STOP = /max[_-]?(output[_-]?)?tokens|length/i;

/** Turns Kiro events into chat events (the logic of ReplyEventStream). */
export function replyEvents(options: ReplyEventStreamOptions): Transformer<KiroEvent, ChatEvent> {
  const { counter, truncation, logger } = options;
  const fromKiro = (name: string) => options.toolNames?.fromKiro(name) ?? name;
  /**
   * Model text and reasoning, kept only when calls written as text are looked for at the end
   * (declared tools): kept deltas live as long as the reply and are promoted out of the young
   * generation, which costs more than the rest of a long reply's handling.
   */
  const keepText = (options.declaredTools?.size ?? 0) > 0;
  const modelText = new TextParts();
  const reasoning = new TextParts();
  let sawModelText = false;
  let sawReasoning = false;
  /** The estimates of both, counted as they stream. */
  const modelTokens = counter.tally();
  const reasoningTokens = counter.tally();
  /** Everything the client sees as text, notices included, for the truncation memory. */
  let visiblePrefix = "";
  let sentVisible = false;
  const openCalls = new Map<string, OpenToolCall>();
  /** `name\0arguments` of every delivered call, so a call written as text too is not doubled. */
  const deliveredCalls = new Set<string>();
  const finishedIds = new Set<string>();
  let emittedToolCalls = 0;
  let truncatedToolCalls = 0;
  let completed = false;
  let metadataStopReason: string | undefined;
  let metadataInputTokens: number | undefined;
  let metadataOutputTokens: number | undefined;
  let credits: number | undefined;
  let cacheReadInputTokens: number | undefined;
  let cacheCreationInputTokens: number | undefined;

  const emitText = (
    controller: TransformStreamDefaultController<ChatEvent>,
    text: string,
    /** Kiro's own text event, handed on as it is (events are never changed after). */
    event?: ChatEvent & { type: "text" },
  ) => {
    sentVisible = true;
    if (visiblePrefix.length < TRUNCATION_TEXT_KEY_CHARS) {
      visiblePrefix = (visiblePrefix + text).slice(0, TRUNCATION_TEXT_KEY_CHARS);
    }
    controller.enqueue(event ?? { type: "text", text });
  };

  const refuseToolCall = (
    controller: TransformStreamDefaultController<ChatEvent>,
    id: string,
    name: string,
    diagnosis: ToolArgumentsDiagnosis,
  ) => {
    const lead = sentVisible ? "\n\n" : "";
    if (diagnosis.truncated) {
      truncatedToolCalls++;
      truncation?.rememberTool(id, { name, ...diagnosis });
      logger?.warn("Tool call was cut off by Kiro", { toolUseId: id, tool: name, ...diagnosis });
      emitText(controller, `${lead}${truncatedNotice(name, diagnosis.sizeBytes)}`);
    } else {
      logger?.warn("Tool call had unusable arguments", {
        toolUseId: id,
        tool: name,
        ...diagnosis,
      });
      emitText(controller, `${lead}${unusableNotice(name, diagnosis)}`);
    }
  };

  const finishToolCall = (
    controller: TransformStreamDefaultController<ChatEvent>,
    id: string,
    call: OpenToolCall,
  ) => {
    openCalls.delete(id);
    finishedIds.add(id);
    const name = fromKiro(call.kiroName);
    const result = toToolArguments(call.parts.join(""));
    if (!result.ok) return refuseToolCall(controller, id, name, result.diagnosis);
    emitToolCall(controller, id, name, result.arguments);
  };

  const emitToolCall = (
    controller: TransformStreamDefaultController<ChatEvent>,
    id: string,
    name: string,
    args: string,
  ) => {
    emittedToolCalls++;
    deliveredCalls.add(`${name}\0${canonicalJson(args)}`);
    controller.enqueue({ type: "tool_call", id, name, arguments: args });
  };

  /** Spec §4.8: calls to declared tools that the model printed as text instead. */
  const emitBracketCalls = (controller: TransformStreamDefaultController<ChatEvent>) => {
    const declared = options.declaredTools;
    if (!declared || declared.size === 0) return;
    for (const call of findBracketCalls(modelText.join() + reasoning.join())) {
      const name = fromKiro(call.name);
      if (!declared.has(name) || deliveredCalls.has(`${name}\0${canonicalJson(call.arguments)}`)) {
        continue;
      }
      logger?.debug("Found a tool call written as text", { tool: name });
      emitToolCall(controller, `call_${randomHex(4)}`, name, call.arguments);
    }
  };

  /** Returns the open call for `id`, opening one unless the id already finished. */
  const callFor = (id: string, kiroName: string): OpenToolCall | undefined => {
    if (finishedIds.has(id)) {
      logger?.debug("Ignored a repeated tool call", { toolUseId: id });
      return undefined;
    }
    let call = openCalls.get(id);
    if (!call) {
      call = { kiroName, parts: [] };
      openCalls.set(id, call);
    }
    if (call.kiroName.length === 0) call.kiroName = kiroName;
    return call;
  };

  const stopReason = (): StopReason => {
    if (truncatedToolCalls > 0) return "max_tokens";
    if (metadataStopReason !== undefined && MAX_TOKENS_STOP.test(metadataStopReason)) {
      return "max_tokens";
    }
    if (!completed && emittedToolCalls === 0 && sawModelText) {
      logger?.warn("Kiro stream ended without a completion signal: reply taken as cut off");
      return "max_tokens";
    }
    return emittedToolCalls > 0 ? "tool_use" : "end_turn";
  };

  const usage = (): Usage => {
    const reasoningEstimate = sawReasoning ? reasoningTokens.tokens() : 0;
    const outputTokens = metadataOutputTokens ?? modelTokens.tokens() + reasoningEstimate;
    const inputTokens = metadataInputTokens ?? options.estimateInputTokens();
    const result: Usage = { inputTokens, outputTokens };
    if (credits !== undefined) result.credits = roundCredits(credits);
    if (cacheReadInputTokens !== undefined) result.cacheReadInputTokens = cacheReadInputTokens;
    if (cacheCreationInputTokens !== undefined) {
      result.cacheCreationInputTokens = cacheCreationInputTokens;
    }
    if (reasoningEstimate > 0) result.reasoningTokens = Math.min(reasoningEstimate, outputTokens);
    return result;
  };

  return {
    transform(event, controller) {
      switch (event.type) {
        case "text":
          if (event.text.length === 0) return;
          if (keepText) modelText.push(event.text);
          sawModelText = true;
          modelTokens.add(event.text);
          emitText(controller, event.text, event);
          return;
        case "reasoning":
          if (event.text.length > 0) {
            if (keepText) reasoning.push(event.text);
            sawReasoning = true;
            reasoningTokens.add(event.text);
            controller.enqueue({ type: "reasoning", text: event.text });
          }
          if (event.signature !== undefined && event.signature !== "") {
            const signature = toClientSignature(event.signature);
            controller.enqueue({ type: "reasoning_signature", signature });
          }
          if (event.redacted !== undefined && event.redacted !== "") {
            controller.enqueue({
              type: "redacted_reasoning",
              data: toClientRedacted(event.redacted),
            });
          }
          return;
        case "tool_start":
          callFor(event.toolUseId, event.name);
          return;
        case "tool_input":
          callFor(event.toolUseId, event.name)?.parts.push(event.input);
          return;
        case "tool_stop": {
          const call = callFor(event.toolUseId, event.name);
          if (call) finishToolCall(controller, event.toolUseId, call);
          return;
        }
        case "metering":
          completed = true;
          credits = (credits ?? 0) + event.credits;
          if (event.cacheReadInputTokens !== undefined) {
            cacheReadInputTokens = (cacheReadInputTokens ?? 0) + event.cacheReadInputTokens;
          }
          if (event.cacheCreationInputTokens !== undefined) {
            cacheCreationInputTokens = (cacheCreationInputTokens ?? 0) +
              event.cacheCreationInputTokens;
          }
          return;
        case "context_usage":
          completed = true;
          return;
        case "metadata": {
          if (event.stopReason !== undefined) {
            completed = true;
            metadataStopReason = event.stopReason;
          }
          const parts = [
            event.uncachedInputTokens,
            event.cacheReadInputTokens,
            event.cacheWriteInputTokens,
          ];
          if (parts.some((part) => part !== undefined)) {
            metadataInputTokens = parts.reduce<number>((sum, part) => sum + (part ?? 0), 0);
            cacheReadInputTokens = event.cacheReadInputTokens ?? 0;
            cacheCreationInputTokens = event.cacheWriteInputTokens ?? 0;
          } else if (event.inputTokens !== undefined) metadataInputTokens = event.inputTokens;
          if (event.outputTokens !== undefined) metadataOutputTokens = event.outputTokens;
          return;
        }
      }
    },
    flush(controller) {
      for (const [id, call] of [...openCalls]) {
        logger?.debug("Tool call had no stop event: finished at end of stream", {
          toolUseId: id,
        });
        finishToolCall(controller, id, call);
      }
      emitBracketCalls(controller);
      const reason = stopReason();
      if (reason === "max_tokens" && visiblePrefix.length > 0) {
        truncation?.rememberText(visiblePrefix);
      }
      controller.enqueue({ type: "end", stopReason: reason, usage: usage() });
    },
  };
}

/**
 * Turns Kiro events into ChatEvents ending with one `end` event. A tool call whose arguments
 * are cut off or unusable is never delivered: a visible text notice takes its place, a cut-off
 * call is remembered, and the stop reason becomes `max_tokens`. A stream that ends with text
 * but without any completion signal (context usage, metering or a metadata stop reason) is
 * taken as cut off too.
 */
export class ReplyEventStream extends TransformStream<KiroEvent, ChatEvent> {
  constructor(options: ReplyEventStreamOptions) {
    super(replyEvents(options));
  }
}

function truncatedNotice(name: string, sizeBytes: number): string {
  return `[Kiro Gateway: the call to tool "${name}" was cut off by Kiro's output limit after ` +
    `${sizeBytes} bytes and was not delivered. Ask for the work in smaller parts.]`;
}

function unusableNotice(name: string, diagnosis: ToolArgumentsDiagnosis): string {
  return `[Kiro Gateway: the call to tool "${name}" was not delivered because its arguments ` +
    `were unusable (${diagnosis.reason}, ${diagnosis.sizeBytes} bytes).]`;
}

/** JSON text with its whitespace normalized, to compare arguments written two ways. */
function canonicalJson(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json));
  } catch {
    return json;
  }
}

/** Sums of float credits drift (0.1 + 0.2); ten decimals is far below Kiro's precision. */
function roundCredits(credits: number): number {
  return Math.round(credits * 1e10) / 1e10;
}

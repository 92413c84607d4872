/**
 * Plain scripts for the fake Kiro, for clients whose requests come in no fixed order (coding
 * agents send titles and other background requests beside the conversation): each responder
 * reads the Kiro payload and answers only the requests it is about.
 *
 *   kiro.respond(toolLoop({ marker: "agents-tool", calls: [{ name: "Write", input }], answer }));
 *
 * answers the conversation whose user text holds "agents-tool" with a call to Write, and once
 * the tool result is back, with the text `answer`.
 */
import type { FakeReply, RecordedRequest, Responder } from "./fake_kiro.ts";
import { contextUsageFrame, meteringFrame, textFrame, toolFrames } from "./frames.ts";

/** The parts of a Kiro payload a script reads. */
export interface PayloadView {
  /** Every user and assistant text, history first, the current message last. */
  texts: string[];
  /** The current user message's text. */
  current: string;
  /** The tool names offered in the current message. */
  tools: string[];
  /** How many tool results the whole conversation holds. */
  toolResults: number;
}

/** Reads a recorded generateAssistantResponse body; fields that are missing read as empty. */
export function viewPayload(body: unknown): PayloadView {
  const state = (body as { conversationState?: Record<string, unknown> })?.conversationState ?? {};
  const history = (state.history ?? []) as Record<string, Record<string, unknown>>[];
  const current = ((state.currentMessage as Record<string, unknown> | undefined)
    ?.userInputMessage ?? {}) as Record<string, unknown>;
  const texts: string[] = [];
  let toolResults = 0;
  for (const entry of [...history, { userInputMessage: current }]) {
    const message = entry.userInputMessage ?? entry.assistantResponseMessage ?? {};
    if (typeof message.content === "string") texts.push(message.content);
    const context = message.userInputMessageContext as { toolResults?: unknown[] } | undefined;
    toolResults += context?.toolResults?.length ?? 0;
  }
  const context = current.userInputMessageContext as
    | { tools?: { toolSpecification: { name: string } }[] }
    | undefined;
  return {
    texts,
    current: typeof current.content === "string" ? current.content : "",
    tools: (context?.tools ?? []).map((tool) => tool.toolSpecification.name),
    toolResults,
  };
}

/** Whether the request asks the model to think (the gateway's fake-reasoning tags). */
export function wantsThinking(view: PayloadView): boolean {
  return view.current.includes("<thinking_mode>enabled</thinking_mode>");
}

/** A reply streaming `text` in a few pieces, then metering and context usage. */
export function textReply(text: string): FakeReply {
  const pieces = text.match(/[\s\S]{1,24}/g) ?? [""];
  return { frames: [...pieces.map(textFrame), meteringFrame(0.01), contextUsageFrame(1.5)] };
}

/** One tool call of a script: the model calls `name` (the name Kiro sees) with `input`. */
export interface ScriptedCall {
  name: string;
  input: Record<string, unknown>;
}

/** Options of toolLoop. */
export interface ToolLoopOptions {
  /** Text in the conversation's user turns that selects it. */
  marker: string;
  /** The calls, one per model turn, in order. */
  calls: ScriptedCall[];
  /** The answer once the result of the last call has arrived. */
  answer: string;
}

/**
 * The model of the conversation holding `marker` calls the tools of `calls` one turn at a time
 * (the next once a result for the previous has come back), then answers `answer`. Requests
 * that do not offer the called tool are left alone (a title request quotes the prompt too); a
 * conversation that holds the marker but offers tools other than the one to call gets a text
 * saying which were offered, so a renamed agent tool fails loudly.
 */
export function toolLoop(options: ToolLoopOptions): Responder {
  return (request) => {
    const view = requestView(request);
    if (!view || !view.texts.some((text) => text.includes(options.marker))) return undefined;
    if (view.tools.length === 0) return undefined;
    const step = view.toolResults;
    const call = options.calls[step];
    if (!call) return textReply(options.answer);
    if (!view.tools.includes(call.name)) {
      return textReply(`Tool "${call.name}" was not offered; offered: ${view.tools.join(", ")}`);
    }
    return {
      frames: [
        ...toolFrames(`tooluse_script${step}`, call.name, [JSON.stringify(call.input)]),
        meteringFrame(0.01),
        contextUsageFrame(2),
      ],
    };
  };
}

/** Options of thinkingAnswer. */
export interface ThinkingAnswerOptions {
  marker: string;
  /** The reasoning, sent inside `<thinking>` tags when the request asked for thinking. */
  thinking: string;
  answer: string;
}

/**
 * The model of the conversation holding `marker` thinks `thinking` (when the request asked
 * for thinking) and answers `answer`; without the request's thinking tags it answers only.
 */
export function thinkingAnswer(options: ThinkingAnswerOptions): Responder {
  return (request) => {
    const view = requestView(request);
    if (!view || !view.current.includes(options.marker)) return undefined;
    if (!wantsThinking(view)) return textReply(options.answer);
    return textReply(`<thinking>${options.thinking}</thinking>\n\n${options.answer}`);
  };
}

/** Options of answerWhen. */
export interface AnswerWhenOptions {
  marker: string;
  answer: string;
}

/** The model answers `answer` to the request whose current message holds `marker`. */
export function answerWhen(options: AnswerWhenOptions): Responder {
  return (request) => {
    const view = requestView(request);
    if (!view || !view.current.includes(options.marker)) return undefined;
    return textReply(options.answer);
  };
}

/**
 * Requests for structured output (the gateway's `<json_schema>` instruction, or its plain
 * JSON instruction) get a JSON value valid against the schema, inside a ```json code fence as
 * models often write it, so the gateway's unwrapping is exercised too.
 */
export function structuredAnswers(): Responder {
  return (request) => {
    const view = requestView(request);
    if (!view) return undefined;
    const prompt = view.texts.join("\n");
    const schema = /<json_schema[^>]*>\n([\s\S]*?)\n<\/json_schema>/.exec(prompt)?.[1];
    if (schema !== undefined) {
      const value = sampleOf(JSON.parse(schema));
      return textReply("```json\n" + JSON.stringify(value, null, 2) + "\n```");
    }
    if (prompt.includes("Answer with one JSON object only")) {
      return textReply('```json\n{"ok": true}\n```');
    }
    return undefined;
  };
}

/** A small value valid against `schema` (objects get their required properties, or all). */
export function sampleOf(schema: unknown): unknown {
  if (typeof schema !== "object" || schema === null) return null;
  const s = schema as Record<string, unknown>;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  const alternatives = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(alternatives) && alternatives.length > 0) return sampleOf(alternatives[0]);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case "object": {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      const keys = Array.isArray(s.required) ? s.required as string[] : Object.keys(properties);
      return Object.fromEntries(keys.map((key) => [key, sampleOf(properties[key] ?? {})]));
    }
    case "array": {
      const min = typeof s.minItems === "number" ? s.minItems : 0;
      return Array.from({ length: min }, () => sampleOf(s.items ?? {}));
    }
    case "string":
      return "Agent test";
    case "integer":
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 0;
    case "boolean":
      return false;
    default:
      return null;
  }
}

function requestView(request: RecordedRequest): PayloadView | undefined {
  if (typeof request.body !== "object" || request.body === null) return undefined;
  return viewPayload(request.body);
}

/**
 * ChatRequest → Kiro generateAssistantResponse payload (spec §2). The steps follow the §2.3
 * pipeline; deliberate differences from the reference are marked "Differs from the reference".
 *
 * - System prompt placement follows the reference: it is prepended to the first user message
 *   (the first history entry, or the current message when there is no history). The
 *   alternative, a synthetic user/assistant pair, is also accepted upstream, but the
 *   reference's form is the proven one and keeps history one pair shorter.
 * - Tool results marked `isError` are sent with status "success" (the only status the
 *   reference ever sends) and their text starts with `Error: `, so the model still learns
 *   that the tool failed without risking a status value Kiro might reject.
 * - Client intents Kiro has no field for are carried as instructions at the end of the system
 *   prompt, never dropped: structured output (the JSON schema, quoted whole) and a forced tool
 *   choice (any tool, or one named tool under the name Kiro sees).
 */
import type { Config } from "../config.ts";
import type {
  ChatImage,
  ChatMessage,
  ChatRequest,
  ResponseFormat,
  SignedReasoning,
  ToolCall,
  ToolChoice,
  ToolResult,
} from "../core/chat.ts";
import type { ToolTruncation, TruncationStore } from "../core/truncation.ts";
import { GatewayError } from "../errors.ts";
import { sanitizeSchema } from "./schema.ts";
import { ToolNameMap } from "./tool_names.ts";

/** Stands in for empty message text (spec §2.8). */
export const EMPTY_PLACEHOLDER = "(empty placeholder)";
/** Stands in for an empty tool result (spec §2.8). */
export const EMPTY_RESULT = "(empty result)";
/** Marks the text of a tool result the client flagged as an error. */
export const ERROR_RESULT_PREFIX = "Error: ";

/** An image in Kiro's form: format from the media type, base64 bytes. */
export interface KiroImage {
  format: string;
  source: { bytes: string };
}

/** A tool definition as Kiro takes it. */
export interface KiroTool {
  toolSpecification: {
    name: string;
    description: string;
    inputSchema: { json: Record<string, unknown> };
  };
}

/** A tool result as Kiro takes it. */
export interface KiroToolResult {
  content: { text: string }[];
  status: "success" | "error";
  toolUseId: string;
}

/** A tool call in an assistant history entry. */
export interface KiroToolUse {
  name: string;
  input: Record<string, unknown>;
  toolUseId: string;
}

/** Tools and tool results attached to a user message. */
export interface KiroUserInputMessageContext {
  tools?: KiroTool[];
  toolResults?: KiroToolResult[];
}

/** A user turn (history entry or current message). */
export interface KiroUserInputMessage {
  content: string;
  modelId: string;
  origin: "AI_EDITOR";
  images?: KiroImage[];
  userInputMessageContext?: KiroUserInputMessageContext;
}

/** Signed reasoning handed back on an assistant history entry (spec §8.6). */
export type KiroReasoningContent =
  | { reasoningText: { text: string; signature: string } }
  | { redactedContent: string };

/** An assistant turn in history. */
export interface KiroAssistantResponseMessage {
  content: string;
  toolUses?: KiroToolUse[];
  reasoningContent?: KiroReasoningContent;
}

/** One history entry: a user or an assistant turn. */
export type KiroHistoryEntry =
  | { userInputMessage: KiroUserInputMessage }
  | { assistantResponseMessage: KiroAssistantResponseMessage };

/** The body of generateAssistantResponse. */
export interface KiroPayload {
  conversationState: {
    chatTriggerType: "MANUAL";
    conversationId: string;
    currentMessage: { userInputMessage: KiroUserInputMessage };
    history?: KiroHistoryEntry[];
  };
  profileArn?: string;
  /** Native reasoning settings for models that advertise them (spec §8.6). */
  additionalModelRequestFields?: Record<string, unknown>;
}

/** Options of buildKiroRequest. */
export interface BuildKiroRequestOptions {
  /** The resolved Kiro model id. */
  modelId: string;
  profileArn: string;
  conversationId: string;
  config: Readonly<Config>;
  /**
   * Truncations remembered from earlier replies; notices are added when given and
   * TRUNCATION_RECOVERY is on. Entries are consumed, so a caller that builds once per attempt
   * should call withTruncationNotices once instead and leave this unset.
   */
  truncation?: TruncationStore;
  /**
   * Whether the model reasons natively (spec §8.6): then the `<thinking>` tags and their
   * system block are left out, whether or not thinking is on.
   */
  nativeReasoning?: boolean;
  /**
   * Native reasoning fields, for a native model with thinking on: sent as
   * `additionalModelRequestFields`, and signed reasoning of history turns goes back as
   * `reasoningContent`. Without them, reasoning in history is never sent.
   */
  reasoningFields?: Record<string, unknown>;
}

const BLOCK_SEPARATOR = "\n\n---\n";

const FAKE_REASONING_BLOCK = `# Extended Thinking Mode

The gateway that connects you to the user may start a user message with the tags \
<thinking_mode>, <max_thinking_length> and <thinking_instruction>. These tags are genuine \
system instructions added by that gateway; they are not written by the user and they are not \
a prompt injection. When they are present, first reason step by step inside \
<thinking>...</thinking>, staying roughly within the given length, and then write your final \
answer after the closing </thinking> tag. Do not mention the tags in your answer.`;

const TRUNCATION_BLOCK = `# Output Truncation Handling

The service between you and the user limits how long one reply may be. When one of your \
replies or tool calls was cut off by that limit, the gateway says so in a user message that \
starts with [System Notice] or in a tool result that starts with [API Limitation]. These \
markers are written by the system, not by the user, and they are accurate. When you see one, \
change your approach: produce the output in smaller parts (for example, write a large file \
with several smaller edits) instead of repeating the output that was cut off.`;

const TOOL_DOCS_INTRO =
  "Some tool descriptions were too long to send with the tool definitions; the full text of each follows under its tool's heading.";

const THINKING_INSTRUCTION =
  "Think in English, thoroughly and systematically: make sure you understand the question, " +
  "consider alternative approaches and edge cases, question your assumptions and check your " +
  "reasoning before you conclude. Then give the final answer in the language the user writes " +
  "in, or the one their settings ask for. A careful, correct answer matters more than a fast one.";

const TEXT_TRUNCATION_NOTICE =
  "[System Notice] Your previous reply was cut off because it reached the output length limit " +
  "of the API. This is not your fault. Do not repeat the same long output: continue with a " +
  "shorter answer, or split the work into smaller steps.";

/**
 * The system-prompt block that asks for structured output: JSON only, no fence, and for
 * `json_schema` the schema itself between `<json_schema>` tags.
 */
export function responseFormatInstruction(format: ResponseFormat): string {
  if (format.type === "json_object") {
    return "# Response Format\n\nThe client reads your answer as JSON. Answer with one JSON " +
      "object only, with no text before or after it and no Markdown code fence.";
  }
  const name = format.name ? ` name="${format.name.replace(/["<>]/g, "")}"` : "";
  const about = format.description ? `\n\nWhat the JSON describes: ${format.description}` : "";
  return "# Response Format\n\nThe client reads your answer as JSON. Answer with one JSON " +
    "value only, valid against the JSON schema below, with no text before or after it and no " +
    `Markdown code fence.${about}\n\n<json_schema${name}>\n${
      JSON.stringify(format.schema)
    }\n</json_schema>`;
}

/** Whether `chat` forces a tool choice that its tools can meet (a named tool must be there). */
export function isToolChoiceOffered(chat: ChatRequest): boolean {
  const choice = chat.toolChoice;
  if (!choice || chat.tools.length === 0) return false;
  return choice.type === "any" || chat.tools.some((tool) => tool.name === choice.name);
}

/** The system-prompt block that asks for a tool call, naming the tool as Kiro knows it. */
export function toolChoiceInstruction(choice: ToolChoice, toolNames: ToolNameMap): string {
  const which = choice.type === "tool"
    ? `by calling the tool "${toolNames.toKiro(choice.name)}"`
    : "by calling one or more of the available tools";
  return `# Tool Use\n\nThe client requires a tool call in this reply: answer ${which}, ` +
    "not with text alone.";
}

/** The `[API Limitation]` notice put before the result of a tool call that was cut off. */
export function toolTruncationNotice(info: ToolTruncation): string {
  return `[API Limitation] The call to the tool "${info.name}" was cut off by the upstream ` +
    `output limit after about ${info.sizeBytes} bytes of arguments (${info.reason}), so the ` +
    "tool received incomplete input. Errors in the result below most likely come from that " +
    "cut, not from the tool itself. The same call would be cut off again: change the approach, " +
    "for example by splitting the content over several smaller calls.";
}

/** The `[System Notice]` user message inserted after an assistant reply that was cut off. */
export function textTruncationNotice(): string {
  return TEXT_TRUNCATION_NOTICE;
}

/** The fake-reasoning tags and instruction put before the current user message (spec §8.3). */
export function thinkingPrefix(budgetTokens: number): string {
  return `<thinking_mode>enabled</thinking_mode>\n` +
    `<max_thinking_length>${budgetTokens}</max_thinking_length>\n` +
    `<thinking_instruction>${THINKING_INSTRUCTION}</thinking_instruction>\n\n`;
}

/** Working copy of a message during normalization. */
interface Turn {
  role: "user" | "assistant";
  text: string;
  images: ChatImage[];
  toolCalls: ToolCall[];
  toolResults: ToolResult[];
  reasoning?: SignedReasoning;
}

interface PreparedTool {
  kiroName: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/**
 * Builds the Kiro payload for `chat` and the tool-name map that turns Kiro's tool names back
 * into the client's. Throws an `invalid_request` GatewayError when no message is left to send.
 */
export function buildKiroRequest(
  chat: ChatRequest,
  options: BuildKiroRequestOptions,
): { payload: KiroPayload; toolNames: ToolNameMap } {
  const { config, modelId } = options;
  const native = options.nativeReasoning === true || options.reasoningFields !== undefined;
  const toolNames = new ToolNameMap();

  const noticed = options.truncation && config.truncationRecovery
    ? withTruncationNotices(chat, options.truncation)
    : chat;
  let turns = noticed.messages.map(copyTurn);

  // Steps 1-3: tools (names aliased, long descriptions moved out), then the system prompt.
  const { tools, docsBlock } = prepareTools(chat, toolNames, config.toolDescriptionMaxLength);
  const system = assembleSystemPrompt(chat.system, [
    docsBlock,
    config.fakeReasoning && !native ? FAKE_REASONING_BLOCK : "",
    config.truncationRecovery ? TRUNCATION_BLOCK : "",
    chat.responseFormat ? responseFormatInstruction(chat.responseFormat) : "",
    isToolChoiceOffered(chat) ? toolChoiceInstruction(chat.toolChoice!, toolNames) : "",
  ]);

  // Step 4: tool traffic without tools becomes text; calls to undeclared tools too.
  const declared = new Set(chat.tools.map((tool) => tool.name));
  turns = turns.map((turn) =>
    tools.length === 0 ? flattenToolTraffic(turn) : flattenUndeclaredCalls(turn, declared)
  );
  // Step 5 runs before the orphan check (differs from the reference): results that a dialect
  // split over consecutive user messages then stay paired with the assistant that asked.
  turns = mergeSameRole(turns);
  turns = flattenOrphanResults(turns);
  // Steps 6-8: user first, then strict alternation.
  if (turns.length > 0 && turns[0]?.role !== "user") turns.unshift(placeholderTurn("user"));
  turns = insertAlternationFillers(turns);
  if (turns.length === 0) {
    throw new GatewayError("invalid_request", "No messages to send", { param: "messages" });
  }

  // Steps 10-11: split and place the system prompt.
  const last = turns[turns.length - 1] as Turn;
  const historyTurns = turns.slice(0, -1);
  const prefill = last.role === "assistant";
  const current: Turn = prefill ? placeholderTurn("user") : last;
  if (prefill) historyTurns.push({ ...last, toolCalls: [] });
  if (system !== "") {
    const target = historyTurns.length > 0 ? historyTurns[0] as Turn : current;
    target.text = target.text.trim() === "" ? system : `${system}\n\n${target.text}`;
  }

  // Steps 12-13: history entries and the current message.
  const sendReasoning = options.reasoningFields !== undefined;
  const history = historyTurns.map((turn) =>
    toHistoryEntry(turn, modelId, toolNames, sendReasoning)
  );
  const userInput = toUserInput(current, modelId, toolNames);
  if (!prefill && chat.thinking.enabled && config.fakeReasoning && !native) {
    userInput.content = thinkingPrefix(chat.thinking.budgetTokens) + userInput.content;
  }
  if (tools.length > 0) {
    const context: KiroUserInputMessageContext = {
      tools: tools.map((tool) => ({
        toolSpecification: {
          name: tool.kiroName,
          description: tool.description,
          inputSchema: { json: tool.inputSchema },
        },
      })),
    };
    if (userInput.userInputMessageContext?.toolResults) {
      context.toolResults = userInput.userInputMessageContext.toolResults;
    }
    userInput.userInputMessageContext = context;
  }

  // Step 14: assemble.
  const payload: KiroPayload = {
    conversationState: {
      chatTriggerType: "MANUAL",
      conversationId: options.conversationId,
      currentMessage: { userInputMessage: userInput },
    },
  };
  if (history.length > 0) payload.conversationState.history = history;
  if (options.profileArn !== "") payload.profileArn = options.profileArn;
  if (options.reasoningFields) payload.additionalModelRequestFields = options.reasoningFields;
  return { payload, toolNames };
}

function copyTurn(message: ChatMessage): Turn {
  const turn: Turn = {
    role: message.role,
    text: message.text,
    images: [...message.images],
    toolCalls: [...message.toolCalls],
    toolResults: message.toolResults.map((result) => ({ ...result })),
  };
  if (message.role === "assistant" && message.reasoning) turn.reasoning = message.reasoning;
  return turn;
}

function placeholderTurn(role: Turn["role"]): Turn {
  return { role, text: EMPTY_PLACEHOLDER, images: [], toolCalls: [], toolResults: [] };
}

/**
 * Returns `chat` with notices for remembered truncations (spec §9.1): a `[System Notice]` user
 * message after each assistant reply that was cut off, an `[API Limitation]` preface on each
 * result of a cut-off tool call. The store forgets what it reports, so call this once per
 * client request (before any retry loop), not once per upstream attempt.
 */
export function withTruncationNotices(chat: ChatRequest, store: TruncationStore): ChatRequest {
  const messages: ChatMessage[] = [];
  for (const message of chat.messages) {
    const toolResults = message.toolResults.map((result) => {
      const info = store.takeTool(result.toolUseId);
      if (!info) return result;
      const content = `${
        toolTruncationNotice(info)
      }\n\n---\n\nOriginal tool result:\n${result.content}`;
      return { ...result, content };
    });
    messages.push({ ...message, toolResults });
    if (message.role === "assistant" && message.text !== "" && store.takeText(message.text)) {
      messages.push({ ...placeholderTurn("user"), text: TEXT_TRUNCATION_NOTICE });
    }
  }
  return { ...chat, messages };
}

function prepareTools(
  chat: ChatRequest,
  toolNames: ToolNameMap,
  descriptionMaxLength: number,
): { tools: PreparedTool[]; docsBlock: string } {
  const sections: string[] = [];
  const tools = chat.tools.map((tool): PreparedTool => {
    const kiroName = toolNames.toKiro(tool.name);
    let description = tool.description.trim() === "" ? `Tool: ${kiroName}` : tool.description;
    if (descriptionMaxLength > 0 && description.length > descriptionMaxLength) {
      sections.push(`## Tool: ${kiroName}\n\n${description}`);
      description = `[Full documentation in system prompt under '## Tool: ${kiroName}']`;
    }
    return { kiroName, description, inputSchema: sanitizeSchema(tool.inputSchema) };
  });
  const docsBlock = sections.length === 0
    ? ""
    : `${BLOCK_SEPARATOR}# Tool Documentation\n${TOOL_DOCS_INTRO}\n\n${
      sections.join("\n\n---\n\n")
    }`;
  return { tools, docsBlock };
}

/**
 * Appends each non-empty block after a `---` separator. Differs slightly from the reference
 * (which strips only the leading whitespace): a block that starts an empty prompt drops the
 * whole separator, so the prompt never opens with a stray `---`.
 */
function assembleSystemPrompt(system: string, blocks: string[]): string {
  let out = system;
  for (const block of blocks) {
    if (block === "") continue;
    const body = block.startsWith(BLOCK_SEPARATOR) ? block.slice(BLOCK_SEPARATOR.length) : block;
    out = out === "" ? body : out + BLOCK_SEPARATOR + body;
  }
  return out;
}

/** Spec §2.6: tool calls and results rendered as text. */
function callsAsText(calls: ToolCall[]): string {
  return calls
    .map((call) => {
      const head = call.id === "" ? `[Tool: ${call.name}]` : `[Tool: ${call.name} (${call.id})]`;
      return `${head}\n${JSON.stringify(call.input)}`;
    })
    .join("\n\n");
}

function resultsAsText(results: ToolResult[]): string {
  return results
    .map((result) => {
      const head = result.toolUseId === ""
        ? "[Tool Result]"
        : `[Tool Result (${result.toolUseId})]`;
      return `${head}\n${resultText(result)}`;
    })
    .join("\n\n");
}

function resultText(result: ToolResult): string {
  const text = result.content === "" ? EMPTY_RESULT : result.content;
  return result.isError ? ERROR_RESULT_PREFIX + text : text;
}

function joinText(...parts: string[]): string {
  return parts.filter((part) => part !== "").join("\n\n");
}

function flattenToolTraffic(turn: Turn): Turn {
  if (turn.toolCalls.length === 0 && turn.toolResults.length === 0) return turn;
  const text = joinText(turn.text, callsAsText(turn.toolCalls), resultsAsText(turn.toolResults));
  return { ...turn, text: text === "" ? EMPTY_PLACEHOLDER : text, toolCalls: [], toolResults: [] };
}

/**
 * Kiro rejects history tool uses whose name is not among the declared tools (spec §2.9).
 * Differs from the reference (which sends them as they are): such calls become text, and their
 * results then become text as orphans, so the model is never offered a tool that is gone.
 */
function flattenUndeclaredCalls(turn: Turn, declared: ReadonlySet<string>): Turn {
  const undeclared = turn.toolCalls.filter((call) => !declared.has(call.name));
  if (undeclared.length === 0) return turn;
  return {
    ...turn,
    text: joinText(turn.text, callsAsText(undeclared)),
    toolCalls: turn.toolCalls.filter((call) => declared.has(call.name)),
  };
}

/** Step 5; images of merged user messages are kept (fixes the reference bug). */
function mergeSameRole(turns: Turn[]): Turn[] {
  const out: Turn[] = [];
  for (const turn of turns) {
    const previous = out[out.length - 1];
    if (previous && previous.role === turn.role) {
      const merged: Turn = {
        role: turn.role,
        text: [previous.text, turn.text].filter((text) => text !== "").join("\n"),
        images: [...previous.images, ...turn.images],
        toolCalls: [...previous.toolCalls, ...turn.toolCalls],
        toolResults: [...previous.toolResults, ...turn.toolResults],
      };
      // Kiro takes one reasoning per entry: the first turn's, which opened the reply.
      const reasoning = previous.reasoning ?? turn.reasoning;
      if (reasoning) merged.reasoning = reasoning;
      out[out.length - 1] = merged;
    } else out.push(turn);
  }
  return out;
}

/**
 * Results whose id is not among the tool calls of the assistant message just before become
 * text after the message's own text. The reference checks only that such a message exists;
 * checking each id also repairs results of calls that were dropped or never made.
 */
function flattenOrphanResults(turns: Turn[]): Turn[] {
  return turns.map((turn, index) => {
    if (turn.toolResults.length === 0) return turn;
    const previous = turns[index - 1];
    const asked = new Set(
      previous?.role === "assistant" ? previous.toolCalls.map((call) => call.id) : [],
    );
    const orphans = turn.toolResults.filter((result) => !asked.has(result.toolUseId));
    if (orphans.length === 0) return turn;
    return {
      ...turn,
      text: joinText(turn.text, resultsAsText(orphans)),
      toolResults: turn.toolResults.filter((result) => asked.has(result.toolUseId)),
    };
  });
}

function insertAlternationFillers(turns: Turn[]): Turn[] {
  const out: Turn[] = [];
  for (const turn of turns) {
    const previous = out[out.length - 1];
    if (previous?.role === "user" && turn.role === "user") out.push(placeholderTurn("assistant"));
    out.push(turn);
  }
  return out;
}

function contentOf(text: string): string {
  return text.trim() === "" ? EMPTY_PLACEHOLDER : text;
}

function toHistoryEntry(
  turn: Turn,
  modelId: string,
  toolNames: ToolNameMap,
  sendReasoning: boolean,
): KiroHistoryEntry {
  if (turn.role === "user") return { userInputMessage: toUserInput(turn, modelId, toolNames) };
  const message: KiroAssistantResponseMessage = { content: contentOf(turn.text) };
  if (sendReasoning && turn.reasoning) {
    message.reasoningContent = toReasoningContent(turn.reasoning);
  }
  if (turn.toolCalls.length > 0) {
    message.toolUses = turn.toolCalls.map((call) => ({
      name: toolNames.toKiro(call.name),
      input: call.input,
      toolUseId: toolNames.toKiroId(call.id),
    }));
  }
  return { assistantResponseMessage: message };
}

function toReasoningContent(reasoning: SignedReasoning): KiroReasoningContent {
  if (reasoning.type === "redacted") return { redactedContent: reasoning.data };
  return { reasoningText: { text: reasoning.text, signature: reasoning.signature } };
}

function toUserInput(turn: Turn, modelId: string, toolNames: ToolNameMap): KiroUserInputMessage {
  const message: KiroUserInputMessage = {
    content: contentOf(turn.text),
    modelId,
    origin: "AI_EDITOR",
  };
  const images = turn.images.map(toKiroImage).filter((image) => image !== undefined);
  if (images.length > 0) message.images = images;
  if (turn.toolResults.length > 0) {
    message.userInputMessageContext = {
      toolResults: turn.toolResults.map((result) => ({
        content: [{ text: resultText(result) }],
        status: "success",
        toolUseId: toolNames.toKiroId(result.toolUseId),
      })),
    };
  }
  return message;
}

/**
 * Spec §2.7: `{format, source: {bytes}}`, the format being the media type after its last `/`
 * (`image/jpeg` when none is given). A `data:` URL prefix in the data is stripped and its media
 * type wins; an image without data is dropped.
 */
export function toKiroImage(image: ChatImage): KiroImage | undefined {
  let mediaType = image.mediaType || "image/jpeg";
  let data = image.data;
  const dataUrl = /^data:([^;,]*)(?:;[^,]*)?,/.exec(data);
  if (dataUrl) {
    if (dataUrl[1]) mediaType = dataUrl[1];
    data = data.slice(dataUrl[0].length);
  }
  if (data === "") return undefined;
  return { format: mediaType.slice(mediaType.lastIndexOf("/") + 1), source: { bytes: data } };
}

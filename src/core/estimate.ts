/**
 * Local estimate of a request's input tokens (spec §4.9 fallback), shared by count_tokens and
 * message_start so both report the same number. No correction factor is applied.
 */
import type { ChatRequest } from "./chat.ts";
import type { TokenCounter } from "./tokens.ts";

/** Tokens added per message, per tool definition, and once at the end (OpenAI's framing). */
const PER_MESSAGE_TOKENS = 4;
const PER_TOOL_TOKENS = 4;
const REPLY_PRIMING_TOKENS = 3;
/** A flat charge per image; the real cost depends on its size, which we do not decode. */
export const IMAGE_TOKENS = 100;

/** Estimates the input tokens of `chat`: messages, tool traffic, tool definitions and system. */
export function estimateInputTokens(chat: ChatRequest, counter: TokenCounter): number {
  let total = REPLY_PRIMING_TOKENS;
  if (chat.system !== "") total += PER_MESSAGE_TOKENS + counter.count(chat.system);
  for (const message of chat.messages) {
    total += PER_MESSAGE_TOKENS + counter.count(message.role) + counter.count(message.text);
    total += IMAGE_TOKENS * message.images.length;
    for (const call of message.toolCalls) {
      total += counter.count(call.name) + counter.count(JSON.stringify(call.input));
      total += counter.count(call.id);
    }
    for (const result of message.toolResults) {
      total += counter.count(result.content) + counter.count(result.toolUseId);
    }
  }
  for (const tool of chat.tools) {
    total += PER_TOOL_TOKENS + counter.count(tool.name) + counter.count(tool.description);
    total += counter.count(JSON.stringify(tool.inputSchema));
  }
  return total;
}

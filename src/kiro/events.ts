// PLACEHOLDER: the codec helper replaces this file. The KiroEvent union below is the contract.
/** One decoded Kiro event (spec §4.3). */
export type KiroEvent =
  | { type: "text"; text: string }
  | { type: "tool_start"; toolUseId: string; name: string }
  | { type: "tool_input"; toolUseId: string; name: string; input: string }
  | { type: "tool_stop"; toolUseId: string; name: string }
  | {
    type: "metering";
    credits: number;
    cacheReadInputTokens?: number;
    cacheCreationInputTokens?: number;
  }
  | { type: "context_usage"; percentage: number }
  | { type: "reasoning"; text: string; signature?: string; redacted?: string }
  | { type: "metadata"; stopReason?: string; inputTokens?: number; outputTokens?: number };

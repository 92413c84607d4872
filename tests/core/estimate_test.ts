import assert from "node:assert/strict";
import { type ChatRequest, emptyMessage } from "../../src/core/chat.ts";
import { estimateInputTokens, IMAGE_TOKENS } from "../../src/core/estimate.ts";
import { TokenCounter } from "../../src/core/tokens.ts";

function chat(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: "claude-sonnet-4.5",
    system: "",
    messages: [{ ...emptyMessage("user"), text: "Hello there" }],
    tools: [],
    thinking: { enabled: false, budgetTokens: 0 },
    stream: false,
    ...overrides,
  };
}

const counter = new TokenCounter();

Deno.test("estimateInputTokens gives the same number for the same request", () => {
  const request = chat({ system: "Be brief" });
  assert.equal(
    estimateInputTokens(request, counter),
    estimateInputTokens(structuredClone(request), new TokenCounter()),
  );
});

Deno.test("estimateInputTokens counts framing, role and text of a message", () => {
  const expected = 3 + 4 + counter.count("user") + counter.count("Hello there");
  assert.equal(estimateInputTokens(chat(), counter), expected);
});

Deno.test("estimateInputTokens grows with each part of the request", async (t) => {
  const base = estimateInputTokens(chat(), counter);
  const user = { ...emptyMessage("user"), text: "Hello there" };
  const cases: [string, ChatRequest][] = [
    ["a system prompt", chat({ system: "You are terse." })],
    ["more text", chat({ messages: [{ ...user, text: "Hello there, how are you today?" }] })],
    [
      "an image",
      chat({ messages: [{ ...user, images: [{ mediaType: "image/png", data: "AAAA" }] }] }),
    ],
    ["another message", chat({ messages: [user, { ...emptyMessage("assistant"), text: "Hi" }] })],
    [
      "a tool call",
      chat({
        messages: [user, {
          ...emptyMessage("assistant"),
          toolCalls: [{ id: "c1", name: "bash", input: { cmd: "ls" } }],
        }],
      }),
    ],
    [
      "a tool result",
      chat({
        messages: [{
          ...user,
          toolResults: [{ toolUseId: "c1", content: "a.txt", isError: false }],
        }],
      }),
    ],
    [
      "a tool definition",
      chat({
        tools: [{ name: "bash", description: "Run a command", inputSchema: { type: "object" } }],
      }),
    ],
  ];
  for (const [name, request] of cases) {
    await t.step(`adding ${name}`, () => {
      assert.ok(estimateInputTokens(request, counter) > base);
    });
  }
  const withImage = cases[2]?.[1] as ChatRequest;
  assert.equal(estimateInputTokens(withImage, counter) - base, IMAGE_TOKENS);
});

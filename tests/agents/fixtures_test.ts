/**
 * The recorded agent requests (tests/fixtures/agents/) replayed through the request builders:
 * dialect body → ChatRequest → Kiro payload → lint. Needs no agent binaries, so a change that
 * breaks an agent's request shape fails everywhere.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import type { ChatRequest } from "../../src/core/chat.ts";
import { toChatRequest as anthropicChat } from "../../src/dialects/anthropic/request.ts";
import { parseMessagesBody } from "../../src/dialects/anthropic/schema.ts";
import { toChatRequest as openAiChat } from "../../src/dialects/openai/request.ts";
import { parseChatCompletionsBody } from "../../src/dialects/openai/schema.ts";
import { toChatRequest as responsesChat } from "../../src/dialects/responses/request.ts";
import { parseResponsesBody } from "../../src/dialects/responses/schema.ts";
import { buildKiroRequest } from "../../src/kiro/request.ts";
import { lintKiroPayload } from "../../src/kiro/request_lint.ts";
import { Logger } from "../../src/log.ts";
import { viewPayload } from "../kiro_script.ts";
import { type AgentFixture, readAgentFixtures } from "./fixtures.ts";

const CONFIG = defaultConfig();
const ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/AGENTS";

/** Converts a fixture's body with the dialect its route names. */
async function toChat(fixture: AgentFixture): Promise<ChatRequest> {
  const path = new URL(fixture.url, "http://gateway").pathname;
  const logger = new Logger({ level: "error", write: () => {} });
  if (path === "/v1/messages") {
    return await anthropicChat(parseMessagesBody(fixture.body), { config: CONFIG, logger });
  }
  if (path === "/v1/chat/completions") {
    return await openAiChat(parseChatCompletionsBody(fixture.body), { config: CONFIG });
  }
  if (path === "/v1/responses") {
    return (await responsesChat(parseResponsesBody(fixture.body), { config: CONFIG })).chat;
  }
  throw new Error(`No request builder for ${fixture.method} ${path}`);
}

/**
 * The client tools of a body (server tools such as web search are not sent to Kiro); Responses
 * bodies also send `custom` and `local_shell` tools and the tools inside a `namespace`.
 */
function clientToolCount(body: unknown): number {
  type Tool = { type?: string; tools?: Tool[] };
  const count = (tools: Tool[]): number =>
    tools.reduce((sum, tool) => {
      if (tool.type === "namespace") return sum + count(tool.tools ?? []);
      const sent = [undefined, "function", "custom", "local_shell"].includes(tool.type);
      return sum + (sent ? 1 : 0);
    }, 0);
  return count((body as { tools?: Tool[] }).tools ?? []);
}

function asksForStructuredOutput(body: unknown): boolean {
  const b = body as {
    response_format?: { type?: string };
    output_config?: { format?: unknown };
    text?: { format?: { type?: string } };
  };
  return (b.response_format?.type !== undefined && b.response_format.type !== "text") ||
    b.output_config?.format !== undefined ||
    (b.text?.format?.type !== undefined && b.text.format.type !== "text");
}

Deno.test("recorded agent requests still become valid Kiro payloads", async (t) => {
  const fixtures = await readAgentFixtures();
  assert.ok(fixtures.size > 0, "the agent fixtures are there");
  for (const [file, fixture] of [...fixtures].sort(([a], [b]) => a.localeCompare(b))) {
    await t.step(`${file} (${fixture.agent})`, async () => {
      const chat = await toChat(fixture);
      const { payload } = buildKiroRequest(chat, {
        modelId: "claude-sonnet-4.5",
        profileArn: ARN,
        conversationId: "fixture",
        config: CONFIG,
      });
      assert.deepEqual(lintKiroPayload(payload), [], "the payload passes the lint");
      const view = viewPayload(payload);
      assert.ok(view.texts.some((text) => /agents-\w+/.test(text)), "the prompt reached Kiro");
      assert.equal(view.tools.length, clientToolCount(fixture.body), "every client tool sent");
      if (file.includes("-tool-result")) {
        assert.ok(view.toolResults > 0, "the tool results reached Kiro");
        assert.equal(
          payload.conversationState.currentMessage.userInputMessage.userInputMessageContext
            ?.toolResults?.length ?? 0,
          chat.messages.at(-1)?.toolResults.length,
          "the last turn's results are on the current message",
        );
      }
      if (file.includes("-thinking")) assert.ok(chat.thinking.enabled, "thinking is on");
      if (asksForStructuredOutput(fixture.body)) {
        assert.ok(chat.responseFormat, "the structured output request is carried");
      }
      if (file.includes("-websearch")) {
        assert.equal(chat.webSearch?.mode, "direct", "the search is answered without the model");
      }
    });
  }
});

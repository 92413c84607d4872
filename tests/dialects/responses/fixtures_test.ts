/**
 * The Responses wire fixtures (tests/fixtures/responses/): each pins a request (often one the
 * real Codex CLI sent, from tests/fixtures/agents/) and a reply. The request goes through the
 * schema, the dialect and the Kiro payload builder; the reply's ChatEvents go through the
 * event stream and must match the golden SSE in tests/golden/responses/ (UPDATE_GOLDEN=1).
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../../src/config.ts";
import type { ChatEvent } from "../../../src/core/chat.ts";
import { SseEncoderStream } from "../../../src/core/sse.ts";
import { toChatRequest } from "../../../src/dialects/responses/request.ts";
import { parseResponsesBody } from "../../../src/dialects/responses/schema.ts";
import { ResponsesEventStream } from "../../../src/dialects/responses/stream.ts";
import { type ErrorKind, GatewayError } from "../../../src/errors.ts";
import { buildKiroRequest } from "../../../src/kiro/request.ts";
import { lintKiroPayload } from "../../../src/kiro/request_lint.ts";
import { assertGolden } from "../../golden_helper.ts";

const FIXTURES = "tests/fixtures/responses";
const CONFIG = defaultConfig();

interface ResponsesFixture {
  pins: string;
  request: Record<string, unknown> | { agentFixture: string };
  reply: (ChatEvent | {
    type: "error";
    error: { kind: ErrorKind; message: string; retryAfterSeconds?: number };
  })[];
  expect: {
    systemIncludes?: string;
    lastUserText?: string;
    tools?: string[];
    absent?: string[];
    thinking?: boolean;
    store?: boolean;
    outputTypes?: string[];
    failedCode?: string;
  };
}

async function requestOf(fixture: ResponsesFixture): Promise<unknown> {
  if ("agentFixture" in fixture.request) {
    const path = `tests/fixtures/agents/${fixture.request.agentFixture}`;
    return (JSON.parse(await Deno.readTextFile(path)) as { body: unknown }).body;
  }
  return fixture.request;
}

function eventsOf(fixture: ResponsesFixture): ChatEvent[] {
  return fixture.reply.map((event) => {
    if (event.type !== "error" || event.error instanceof GatewayError) return event as ChatEvent;
    const { kind, message, retryAfterSeconds } = event.error;
    return { type: "error", error: new GatewayError(kind, message, { retryAfterSeconds }) };
  });
}

Deno.test("Responses wire fixtures replay through the dialect", async (t) => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(FIXTURES)) {
    if (entry.isFile && entry.name.endsWith(".json")) names.push(entry.name.slice(0, -5));
  }
  assert.ok(names.length >= 4, "the fixtures are there");
  for (const name of names.sort()) {
    await t.step(name, async () => {
      const fixture = JSON.parse(
        await Deno.readTextFile(`${FIXTURES}/${name}.json`),
      ) as ResponsesFixture;
      const body = parseResponsesBody(await requestOf(fixture));
      const { chat, calls } = await toChatRequest(body, { config: CONFIG });
      const { payload } = buildKiroRequest(chat, {
        modelId: "claude-sonnet-4.5",
        profileArn: "arn:aws:codewhisperer:us-east-1:123456789012:profile/FIXTURE",
        conversationId: "fixture",
        config: CONFIG,
      });
      assert.deepEqual(lintKiroPayload(payload), [], "the Kiro payload passes the lint");
      const sent = JSON.stringify(payload);
      const { expect } = fixture;
      if (expect.systemIncludes) assert.ok(chat.system.includes(expect.systemIncludes));
      if (expect.lastUserText) {
        const last = chat.messages.filter((message) => message.role === "user").at(-1);
        assert.ok(last?.text.endsWith(expect.lastUserText), last?.text);
      }
      const toolNames = chat.tools.map((tool) => tool.name);
      for (const tool of expect.tools ?? []) assert.ok(toolNames.includes(tool), tool);
      for (const text of expect.absent ?? []) assert.ok(!sent.includes(text), `${text} sent`);
      if (expect.thinking !== undefined) assert.equal(chat.thinking.enabled, expect.thinking);
      if (expect.store !== undefined) assert.equal(body.store, expect.store);

      let counter = 0;
      const sse = await new Response(
        ReadableStream.from(eventsOf(fixture))
          .pipeThrough(
            new ResponsesEventStream({
              id: "resp_fixture",
              createdAt: 1_800_000_000,
              body,
              calls,
              newId: (prefix) => `${prefix}${String(++counter).padStart(4, "0")}`,
              keepAliveIntervalMs: 3_600_000,
            }),
          )
          .pipeThrough(new SseEncoderStream()),
      ).text();
      await assertGolden(sse, `responses/${name}.sse`);

      const events = sse.trim().split("\n\n").map((block) =>
        JSON.parse(block.split("\n")[1]!.slice("data: ".length)) as Record<string, unknown>
      );
      assert.deepEqual(events.map((event) => event.sequence_number), events.map((_, i) => i));
      const last = events.at(-1)!;
      const response = last.response as Record<string, unknown>;
      assert.equal(response.id, "resp_fixture");
      if (expect.failedCode) {
        assert.equal(last.type, "response.failed");
        assert.equal((response.error as { code: string }).code, expect.failedCode);
      } else {
        assert.equal(last.type, "response.completed");
        const usage = response.usage as Record<string, unknown>;
        for (const key of ["input_tokens", "output_tokens", "total_tokens"]) {
          assert.ok(Number.isInteger(usage[key]), key);
        }
        assert.ok(Number.isInteger(
          (usage.input_tokens_details as Record<string, unknown>)
            .cached_tokens,
        ));
        assert.ok(Number.isInteger(
          (usage.output_tokens_details as Record<string, unknown>)
            .reasoning_tokens,
        ));
      }
      if (expect.outputTypes) {
        const output = response.output as { type: string }[];
        assert.deepEqual(output.map((item) => item.type), expect.outputTypes);
        // Codex runs a tool only from its output_item.done.
        const done = events.filter((event) => event.type === "response.output_item.done");
        assert.equal(done.length, output.length);
      }
    });
  }
});

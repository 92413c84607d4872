import assert from "node:assert/strict";
import { postWebSearch, tempDir } from "../helpers.ts";
import { exampleArguments, readDemoRequest } from "../../src/demo.ts";
import { emptySandbox, spawnGateway } from "./gateway_process.ts";

const API_KEY = "demo-test-key-0123456789";

Deno.test("--demo serves both dialects without Kiro credentials", async (t) => {
  await using tmp = await tempDir();
  const { cwd, home } = await emptySandbox(tmp.path);
  await using gateway = spawnGateway({
    cwd,
    home,
    env: { PROXY_API_KEY: API_KEY },
    args: ["--demo", "--port", "0"],
  });
  const url = await gateway.waitForUrl();
  await t.step("an OpenAI chat completion", async () => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4.5",
        messages: [{ role: "user", content: "Hello demo" }],
      }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.match(body.choices[0].message.content, /^\[demo\] .*Hello demo/);
  });
  await t.step("an Anthropic stream with thinking and a tool call", async () => {
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": API_KEY, "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-sonnet-4.5",
        max_tokens: 2000,
        stream: true,
        thinking: { type: "enabled", budget_tokens: 1024 },
        tools: [{
          name: "get_weather",
          input_schema: {
            type: "object",
            properties: { city: { type: "string" }, days: { type: "integer" } },
            required: ["city", "days"],
          },
        }],
        messages: [{ role: "user", content: "Weather?" }],
      }),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.match(text, /event: message_start/);
    assert.match(text, /"type":"thinking_delta"/);
    assert.match(text, /\[demo\]/);
    assert.match(text, /"name":"get_weather"/);
    assert.match(text, /"stop_reason":"tool_use"/);
    assert.match(text, /event: message_stop/);
  });
  await t.step("a web search answered by the demo's own MCP stand-in", async () => {
    const body = await postWebSearch(url, { key: API_KEY, query: "deno", maxTokens: 1000 });
    assert.equal(body.content[1].type, "web_search_tool_result");
    assert.match(body.content[1].content[0].title, /^\[demo\] A scripted result for "deno"/);
  });
  const { stderr } = await gateway.stop();
  assert.match(stderr, /Demo mode: replies are scripted/);
});

Deno.test("demo tool arguments follow the tool's schema", () => {
  assert.deepEqual(
    exampleArguments({
      type: "object",
      properties: {
        city: { type: "string" },
        unit: { enum: ["celsius", "fahrenheit"] },
        days: { type: "integer" },
        tags: { type: "array", items: { type: "string" } },
        optional: { type: "string" },
      },
      required: ["city", "unit", "days", "tags"],
    }),
    { city: "Paris", unit: "celsius", days: 1, tags: ["demo tags"] },
  );
});

Deno.test("the demo reads the latest message, its tools and the thinking request", () => {
  const request = readDemoRequest({
    conversationState: {
      currentMessage: {
        userInputMessage: {
          content: "<thinking_mode>enabled</thinking_mode>\n<thinking_instruction>x" +
            "</thinking_instruction>\n\nSystem text\n\nWhat now?",
          userInputMessageContext: {
            tools: [{
              toolSpecification: { name: "t", inputSchema: { json: { type: "object" } } },
            }],
            toolResults: [{ toolUseId: "a" }],
          },
        },
      },
    },
  });
  assert.deepEqual(request, {
    text: "What now?",
    thinking: true,
    tools: [{ name: "t", schema: { type: "object" } }],
    hasToolResults: true,
  });
});

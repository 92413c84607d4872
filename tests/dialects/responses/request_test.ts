import assert from "node:assert/strict";
import { defaultConfig } from "../../../src/config.ts";
import { toChatRequest } from "../../../src/dialects/responses/request.ts";
import { callItem } from "../../../src/dialects/responses/response.ts";
import { parseResponsesBody } from "../../../src/dialects/responses/schema.ts";
import { GatewayError } from "../../../src/errors.ts";

const CONFIG = defaultConfig({ imageUrlFetch: "all" });
const PNG = "iVBORw0KGgo=";

function convert(body: Record<string, unknown>, fetchImage?: typeof fetch) {
  return toChatRequest(parseResponsesBody({ model: "claude-sonnet-4.5", ...body }), {
    config: CONFIG,
    fetchImage: fetchImage as never,
  });
}

Deno.test("Responses input becomes neutral messages", async (t) => {
  await t.step("a string input is one user message", async () => {
    const { chat } = await convert({ input: "Hello" });
    assert.deepEqual(chat.messages.map((m) => [m.role, m.text]), [["user", "Hello"]]);
    assert.equal(chat.system, "");
    assert.equal(chat.stream, false);
  });

  await t.step(
    "instructions, then system and developer messages form the system prompt",
    async () => {
      const { chat } = await convert({
        instructions: "Be brief.",
        input: [
          { type: "message", role: "developer", content: [{ type: "input_text", text: "Dev." }] },
          { role: "user", content: "Hi" },
          { role: "system", content: "Sys." },
        ],
      });
      assert.equal(chat.system, "Be brief.\n\nDev.\n\nSys.");
      assert.deepEqual(chat.messages.map((m) => m.text), ["Hi"]);
    },
  );

  await t.step("text parts join, images become image bytes", async () => {
    const { chat } = await convert({
      input: [{
        role: "user",
        content: [
          { type: "input_text", text: "Look" },
          { type: "input_image", image_url: `data:image/png;base64,${PNG}`, detail: "auto" },
          { type: "input_text", text: "here" },
        ],
      }],
    });
    assert.equal(chat.messages[0]?.text, "Look\nhere");
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/png", data: PNG }]);
  });

  await t.step("an http image is fetched under the configured policy", async () => {
    const fetched: string[] = [];
    const fakeFetch = (url: string) => {
      fetched.push(url);
      return Promise.resolve(
        new Response(Uint8Array.from(atob(PNG), (c) => c.charCodeAt(0)), {
          headers: { "content-type": "image/png" },
        }),
      );
    };
    const { chat } = await convert(
      {
        input: [{ role: "user", content: [{ type: "input_image", image_url: "https://x/a.png" }] }],
      },
      fakeFetch as typeof fetch,
    );
    assert.deepEqual(fetched, ["https://x/a.png"]);
    assert.equal(chat.messages[0]?.images[0]?.mediaType, "image/png");
  });

  await t.step("a broken data URL is a 400 naming the part", async () => {
    const err = await convert({
      input: [{ role: "user", content: [{ type: "input_image", image_url: "data:text/plain,x" }] }],
    }).catch((e) => e);
    assert.ok(err instanceof GatewayError);
    assert.equal(err.param, "input.0.content.0.image_url");
  });

  await t.step("function calls and their outputs pair up, with images from outputs", async () => {
    const { chat } = await convert({
      tools: [{ type: "function", name: "read", parameters: { type: "object" } }],
      input: [
        { role: "user", content: "Read it" },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Sure." }] },
        { type: "function_call", call_id: "c1", name: "read", arguments: '{"path":"a"}' },
        { type: "function_call", call_id: "c2", name: "read", arguments: "not json" },
        {
          type: "function_call_output",
          call_id: "c1",
          output: [
            { type: "input_text", text: "file a" },
            { type: "input_image", image_url: `data:image/png;base64,${PNG}` },
          ],
        },
        { type: "function_call_output", call_id: "c2", output: "oops" },
        { role: "user", content: "Thanks" },
      ],
    });
    assert.deepEqual(chat.messages.map((m) => m.role), ["user", "assistant", "user"]);
    const [, assistant, results] = chat.messages;
    assert.equal(assistant?.text, "Sure.");
    assert.deepEqual(assistant?.toolCalls, [
      { id: "c1", name: "read", input: { path: "a" } },
      { id: "c2", name: "read", input: { _raw: "not json" } },
    ]);
    assert.deepEqual(results?.toolResults.map((r) => [r.toolUseId, r.content]), [
      ["c1", "file a"],
      ["c2", "oops"],
    ]);
    assert.equal(results?.images.length, 1);
    assert.equal(results?.text, "Thanks");
  });

  await t.step("custom tool calls carry their raw input in the wrapper field", async () => {
    const { chat } = await convert({
      tools: [{ type: "custom", name: "apply_patch" }],
      input: [
        { role: "user", content: "Patch" },
        { type: "custom_tool_call", call_id: "p1", name: "apply_patch", input: "*** Begin" },
        { type: "custom_tool_call_output", call_id: "p1", output: "Done" },
      ],
    });
    assert.deepEqual(chat.messages[1]?.toolCalls, [
      { id: "p1", name: "apply_patch", input: { input: "*** Begin" } },
    ]);
    assert.equal(chat.messages[2]?.toolResults[0]?.content, "Done");
  });

  await t.step("namespaced calls in history use the qualified name", async () => {
    const { chat } = await convert({
      tools: [{
        type: "namespace",
        name: "multi_agent_v1",
        tools: [{ type: "function", name: "wait_agent" }],
      }],
      input: [
        { role: "user", content: "Wait" },
        {
          type: "function_call",
          call_id: "w1",
          name: "wait_agent",
          namespace: "multi_agent_v1",
          arguments: "{}",
        },
      ],
    });
    assert.deepEqual(chat.tools.map((tool) => tool.name), ["multi_agent_v1__wait_agent"]);
    assert.equal(chat.messages[1]?.toolCalls[0]?.name, "multi_agent_v1__wait_agent");
  });

  await t.step("local shell calls and outputs become the local_shell tool's traffic", async () => {
    const { chat } = await convert({
      tools: [{ type: "local_shell" }],
      input: [
        { role: "user", content: "List" },
        {
          type: "local_shell_call",
          id: "lsh_1",
          call_id: "s1",
          status: "completed",
          action: { type: "exec", command: ["ls", "-a"], working_directory: "/w", env: {} },
        },
        { type: "local_shell_call_output", call_id: "s1", output: "a b" },
      ],
    });
    assert.deepEqual(chat.tools.map((tool) => tool.name), ["local_shell"]);
    assert.deepEqual(chat.messages[1]?.toolCalls, [
      { id: "s1", name: "local_shell", input: { command: ["ls", "-a"], workdir: "/w" } },
    ]);
    assert.equal(chat.messages[2]?.toolResults[0]?.content, "a b");
  });

  await t.step("reasoning items are dropped, whatever they hold", async () => {
    const { chat } = await convert({
      input: [
        { role: "user", content: "Q" },
        {
          type: "reasoning",
          summary: [{ type: "summary_text", text: "hidden" }],
          encrypted_content: "blob",
        },
        { role: "assistant", content: "A" },
      ],
    });
    assert.ok(!JSON.stringify(chat).includes("hidden"));
    assert.ok(!JSON.stringify(chat).includes("blob"));
  });

  await t.step("input items follow the stored history", async () => {
    const { chat, items } = await toChatRequest(
      parseResponsesBody({ model: "m", input: "Again" }),
      {
        config: CONFIG,
        history: [
          { type: "message", role: "user", content: "First" },
          { type: "message", role: "assistant", content: [{ type: "output_text", text: "One" }] },
        ],
      },
    );
    assert.deepEqual(chat.messages.map((m) => m.text), ["First", "One", "Again"]);
    assert.equal(items.length, 3);
  });
});

Deno.test("Responses tools and settings become ChatRequest fields", async (t) => {
  await t.step("a custom tool is a function with one string field and its grammar", async () => {
    const { chat, calls } = await convert({
      input: "x",
      tools: [{
        type: "custom",
        name: "apply_patch",
        description: "Patch files.",
        format: { type: "grammar", syntax: "lark", definition: "start: /.+/" },
      }],
    });
    assert.deepEqual(chat.tools[0]?.inputSchema, {
      type: "object",
      properties: { input: { type: "string", description: "The raw input text" } },
      required: ["input"],
    });
    assert.match(chat.tools[0]!.description, /^Patch files\./);
    assert.match(chat.tools[0]!.description, /lark grammar:\n\nstart: \/\.\+\/$/);
    assert.deepEqual(calls.get("apply_patch"), { kind: "custom", name: "apply_patch" });
  });

  await t.step("unknown and server tools are dropped", async () => {
    const { chat } = await convert({
      input: "x",
      tools: [
        { type: "web_search" },
        { type: "image_generation" },
        { type: "tool_search" },
        { type: "function", name: "f" },
      ],
    });
    assert.deepEqual(chat.tools.map((tool) => tool.name), ["f"]);
  });

  await t.step("tool_choice none sends no tools; required and named ones are carried", async () => {
    const tools = [{ type: "function", name: "f" }];
    assert.deepEqual((await convert({ input: "x", tools, tool_choice: "none" })).chat.tools, []);
    assert.deepEqual(
      (await convert({ input: "x", tools, tool_choice: "required" })).chat.toolChoice,
      { type: "any" },
    );
    assert.deepEqual(
      (await convert({ input: "x", tools, tool_choice: { type: "function", name: "f" } })).chat
        .toolChoice,
      { type: "tool", name: "f" },
    );
    assert.equal(
      (await convert({ input: "x", tools, tool_choice: "auto" })).chat.toolChoice,
      undefined,
    );
  });

  await t.step("reasoning effort sets thinking; none turns it off", async () => {
    const high = (await convert({ input: "x", reasoning: { effort: "high" } })).chat.thinking;
    assert.equal(high.enabled, true);
    assert.equal(high.effort, "high");
    const off = (await convert({ input: "x", reasoning: { effort: "none" } })).chat.thinking;
    assert.equal(off.enabled, false);
  });

  await t.step("text.format, prompt_cache_key and max_output_tokens are carried", async () => {
    const { chat } = await convert({
      input: "x",
      text: {
        format: {
          type: "json_schema",
          name: "answer",
          schema: { type: "object" },
          strict: true,
        },
      },
      prompt_cache_key: "conv-1",
      max_output_tokens: 500,
      stream: true,
    });
    assert.deepEqual(chat.responseFormat, {
      type: "json_schema",
      name: "answer",
      schema: { type: "object" },
      strict: true,
    });
    assert.equal(chat.promptCacheKey, "conv-1");
    assert.equal(chat.maxOutputTokens, 500);
    assert.equal(chat.stream, true);
    const plain = (await convert({ input: "x", text: { format: { type: "text" } } })).chat;
    assert.equal(plain.responseFormat, undefined);
  });
});

Deno.test("calls render as the output item their tool's kind asks for", async (t) => {
  const { calls } = await convert({
    input: "x",
    tools: [
      { type: "function", name: "f" },
      { type: "custom", name: "apply_patch" },
      { type: "local_shell" },
      { type: "namespace", name: "mcp__docs__", tools: [{ type: "function", name: "search" }] },
    ],
  });
  const ctx = { calls };
  await t.step("a custom call keeps its raw input, even when the model used another field", () => {
    const item = callItem(ctx, {
      itemId: "ctc_1",
      id: "c",
      name: "apply_patch",
      arguments: '{"patch":"P"}',
    });
    assert.equal(item.type, "custom_tool_call");
    assert.equal(item.input, "P");
  });
  await t.step("a local shell call is an exec action", () => {
    const item = callItem(ctx, {
      itemId: "lsh_1",
      id: "s",
      name: "local_shell",
      arguments: '{"command":["ls"],"workdir":"/w","timeout_ms":500}',
    });
    assert.deepEqual(item, {
      id: "lsh_1",
      type: "local_shell_call",
      status: "completed",
      call_id: "s",
      action: {
        type: "exec",
        command: ["ls"],
        working_directory: "/w",
        timeout_ms: 500,
        env: {},
        user: null,
      },
    });
  });
  await t.step("a namespaced call gets its bare name and namespace back", () => {
    const item = callItem(ctx, {
      itemId: "fc_1",
      id: "n",
      name: "mcp__docs__search",
      arguments: "",
    });
    assert.deepEqual(
      [item.name, item.namespace, item.arguments],
      ["search", "mcp__docs__", "{}"],
    );
  });
  await t.step("a call to an unknown name is a plain function call", () => {
    const item = callItem(ctx, {
      itemId: "fc_2",
      id: "u",
      name: "other",
      arguments: '{"a":1}',
    });
    assert.equal(item.type, "function_call");
    assert.equal(item.name, "other");
  });
});

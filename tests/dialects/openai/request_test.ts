import assert from "node:assert/strict";
import { defaultConfig } from "../../../src/config.ts";
import type { ChatRequest } from "../../../src/core/chat.ts";
import type { ImageFetcher } from "../../../src/core/images.ts";
import { toChatRequest } from "../../../src/dialects/openai/request.ts";
import { parseChatCompletionsBody } from "../../../src/dialects/openai/schema.ts";
import { GatewayError } from "../../../src/errors.ts";

const CONFIG = defaultConfig({ imageUrlFetch: "all" });
const PNG_BASE64 = "iVBORw0KGgo=";

function convert(
  body: Record<string, unknown>,
  fetcher?: ImageFetcher,
): Promise<ChatRequest> {
  const parsed = parseChatCompletionsBody({ model: "claude-sonnet-4.5", ...body });
  return toChatRequest(parsed, { config: CONFIG, fetchImage: fetcher });
}

async function rejectsWith(
  promise: Promise<unknown>,
  expected: { kind: string; param?: string; message: RegExp },
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.kind, expected.kind);
    assert.equal(err.param, expected.param);
    assert.match(err.message, expected.message);
    return true;
  });
}

Deno.test("toChatRequest builds the system prompt from system and developer messages", async () => {
  const chat = await convert({
    messages: [
      { role: "system", content: "  Be brief." },
      { role: "developer", content: [{ type: "text", text: "Use French." }] },
      { role: "user", content: "Hi" },
      { role: "system", content: "Late rule.  " },
    ],
  });
  assert.equal(chat.system, "Be brief.\nUse French.\nLate rule.");
  assert.deepEqual(chat.messages.map((m) => [m.role, m.text]), [["user", "Hi"]]);
});

Deno.test("toChatRequest keeps a multi-turn history in order", async () => {
  const chat = await convert({
    messages: [
      { role: "user", content: "One" },
      { role: "assistant", content: "Two", reasoning_content: "hidden" },
      { role: "user", content: [{ type: "text", text: "Th" }, "r", { type: "text", text: "ee" }] },
    ],
  });
  assert.deepEqual(chat.messages.map((m) => [m.role, m.text]), [
    ["user", "One"],
    ["assistant", "Two"],
    ["user", "Three"],
  ]);
  assert.equal(chat.model, "claude-sonnet-4.5");
  assert.equal(chat.stream, false);
});

Deno.test("toChatRequest converts a tool round trip", async (t) => {
  await t.step("assistant tool calls get parsed inputs", async () => {
    const chat = await convert({
      messages: [
        { role: "user", content: "List" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "bash", arguments: '{"cmd":"ls"}' },
            },
            { id: "call_2", type: "function", function: { name: "noop", arguments: "" } },
            { id: "call_3", type: "function", function: { name: "bad", arguments: "{oops" } },
            { id: "call_4", type: "function", function: { name: "list", arguments: "[1]" } },
          ],
        },
      ],
    });
    assert.deepEqual(chat.messages[1]?.toolCalls, [
      { id: "call_1", name: "bash", input: { cmd: "ls" } },
      { id: "call_2", name: "noop", input: {} },
      { id: "call_3", name: "bad", input: { _raw: "{oops" } },
      { id: "call_4", name: "list", input: { _raw: "[1]" } },
    ]);
    assert.equal(chat.messages[1]?.text, "");
  });

  await t.step("consecutive tool messages become one user turn with results", async () => {
    const chat = await convert({
      messages: [
        { role: "user", content: "Go" },
        {
          role: "assistant",
          content: "",
          tool_calls: [
            { id: "a", type: "function", function: { name: "f", arguments: "{}" } },
            { id: "b", type: "function", function: { name: "f", arguments: "{}" } },
            { id: "c", type: "function", function: { name: "f", arguments: "{}" } },
          ],
        },
        { role: "tool", tool_call_id: "a", content: "first" },
        { role: "tool", tool_call_id: "b", content: [{ type: "text", text: "second" }] },
        { role: "tool", tool_call_id: "c", content: null },
        { role: "user", content: "Thanks" },
      ],
    });
    assert.equal(chat.messages.length, 4);
    assert.deepEqual(chat.messages[2]?.toolResults, [
      { toolUseId: "a", content: "first", isError: false },
      { toolUseId: "b", content: "second", isError: false },
      { toolUseId: "c", content: "", isError: false },
    ]);
    assert.equal(chat.messages[2]?.role, "user");
    assert.equal(chat.messages[3]?.text, "Thanks");
  });

  await t.step("images inside tool messages are lifted to the results turn", async () => {
    const chat = await convert({
      messages: [
        { role: "user", content: "Shot" },
        {
          role: "assistant",
          tool_calls: [{ id: "s", type: "function", function: { name: "shot", arguments: "{}" } }],
        },
        {
          role: "tool",
          tool_call_id: "s",
          content: [
            { type: "text", text: "done" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_BASE64}` } },
          ],
        },
      ],
    });
    const last = chat.messages.at(-1);
    assert.deepEqual(last?.images, [{ mediaType: "image/png", data: PNG_BASE64 }]);
    assert.deepEqual(last?.toolResults, [{ toolUseId: "s", content: "done", isError: false }]);
  });

  await t.step("Anthropic-style tool_result parts in a user message are results", async () => {
    const chat = await convert({
      messages: [{
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "t1", content: "ok", is_error: true },
          { type: "text", text: "and more" },
        ],
      }],
    });
    assert.deepEqual(chat.messages[0]?.toolResults, [
      { toolUseId: "t1", content: "ok", isError: true },
    ]);
    assert.equal(chat.messages[0]?.text, "and more");
  });
});

Deno.test("toChatRequest reads tools in both shapes", async (t) => {
  const schema = { type: "object", properties: { q: { type: "string" } }, required: ["q"] };
  await t.step("standard, flat and non-function tools", async () => {
    const chat = await convert({
      messages: [{ role: "user", content: "x" }],
      tools: [
        { type: "function", function: { name: "search", description: "Find", parameters: schema } },
        { type: "function", name: "flat", description: "Flat tool", input_schema: schema },
        { type: "function", function: { name: "bare" } },
        { type: "web_search_preview" },
        {
          type: "function",
          name: "ignored",
          function: { name: "nested_wins", description: "N", parameters: {} },
        },
      ],
      tool_choice: "auto",
    });
    assert.deepEqual(chat.tools, [
      { name: "search", description: "Find", inputSchema: schema },
      { name: "flat", description: "Flat tool", inputSchema: schema },
      { name: "bare", description: "", inputSchema: {} },
      { name: "nested_wins", description: "N", inputSchema: {} },
    ]);
  });

  await t.step("tool_choice none sends no tools", async () => {
    const chat = await convert({
      messages: [{ role: "user", content: "x" }],
      tools: [{ type: "function", function: { name: "search" } }],
      tool_choice: "none",
    });
    assert.deepEqual(chat.tools, []);
  });
});

Deno.test("toChatRequest maps limits, streaming and reasoning effort", async (t) => {
  const cases: {
    name: string;
    body: Record<string, unknown>;
    thinking: ChatRequest["thinking"];
    maxOutputTokens?: number;
  }[] = [
    {
      name: "no effort uses the default budget",
      body: {},
      thinking: { enabled: true, budgetTokens: 4000 },
    },
    {
      name: "none disables thinking",
      body: { reasoning_effort: "none" },
      thinking: { enabled: false, budgetTokens: 0 },
    },
    {
      name: "high takes 80% of max_tokens",
      body: { reasoning_effort: "high", max_tokens: 4096 },
      thinking: { enabled: true, budgetTokens: 3276, effort: "high" },
      maxOutputTokens: 4096,
    },
    {
      name: "medium takes half of max_completion_tokens",
      body: { reasoning_effort: "medium", max_completion_tokens: 10000 },
      thinking: { enabled: true, budgetTokens: 5000, effort: "medium" },
      maxOutputTokens: 10000,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const chat = await convert({ messages: [{ role: "user", content: "x" }], ...c.body });
      assert.deepEqual(chat.thinking, c.thinking);
      assert.equal(chat.maxOutputTokens, c.maxOutputTokens);
    });
  }
  await t.step("stream is passed through", async () => {
    const chat = await convert({ messages: [{ role: "user", content: "x" }], stream: true });
    assert.equal(chat.stream, true);
  });
});

Deno.test("toChatRequest reads images from data URLs and fetched URLs", async (t) => {
  await t.step("a data URL becomes an image and the text skips it", async () => {
    const chat = await convert({
      messages: [{
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_BASE64}` } },
        ],
      }],
    });
    assert.equal(chat.messages[0]?.text, "What is this?");
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/png", data: PNG_BASE64 }]);
  });

  await t.step("an http URL goes through the fetcher with its signal", async () => {
    const seen: string[] = [];
    const fetcher: ImageFetcher = (url) => {
      seen.push(url);
      const gif = Uint8Array.from(atob("R0lGOA=="), (c) => c.charCodeAt(0));
      return Promise.resolve(new Response(gif, { headers: { "content-type": "image/gif" } }));
    };
    const chat = await convert({
      messages: [{
        role: "user",
        content: [{ type: "image_url", image_url: "https://example.test/cat.gif" }],
      }],
    }, fetcher);
    assert.deepEqual(seen, ["https://example.test/cat.gif"]);
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/gif", data: "R0lGOA==" }]);
  });

  await t.step("a failing fetch names the URL and the field", async () => {
    const fetcher: ImageFetcher = () => Promise.reject(new Error("the server answered 404"));
    await rejectsWith(
      convert({
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "yes" },
          {
            role: "user",
            content: [
              { type: "text", text: "look" },
              { type: "image_url", image_url: { url: "http://example.test/x.png" } },
            ],
          },
        ],
      }, fetcher),
      {
        kind: "invalid_request",
        param: "messages.2.content.1.image_url.url",
        message: /^Cannot fetch image "http:\/\/example\.test\/x\.png": the server answered 404$/,
      },
    );
  });

  await t.step("other URL schemes are refused", async () => {
    await rejectsWith(
      convert({
        messages: [{
          role: "user",
          content: [{ type: "image_url", image_url: { url: "file:///etc/passwd" } }],
        }],
      }),
      {
        kind: "invalid_request",
        param: "messages.0.content.0.image_url.url",
        message: /data: or http/,
      },
    );
  });
});

Deno.test("toChatRequest fetches image URLs only as IMAGE_URL_FETCH allows", async (t) => {
  const cases: { name: string; policy: "public" | "off"; url: string; message: RegExp }[] = [
    {
      name: "off refuses the URL and says how to enable it",
      policy: "off",
      url: "https://example.test/cat.png",
      message: /^Cannot fetch image ".*": image URL fetching is off: .*IMAGE_URL_FETCH=public/,
    },
    {
      name: "public refuses a private address",
      policy: "public",
      url: "http://192.168.1.10/cat.png",
      message: /^Cannot fetch image ".*": host "192\.168\.1\.10" is not public: it is a private/,
    },
    {
      name: "public refuses an IPv6 loopback address",
      policy: "public",
      url: "http://[::1]:8080/cat.png",
      message: /host "\[::1\]" is not public: it is a loopback address/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      let fetched = false;
      const fetcher: ImageFetcher = () => {
        fetched = true;
        return Promise.resolve(new Response("x", { headers: { "content-type": "image/png" } }));
      };
      const parsed = parseChatCompletionsBody({
        model: "claude-sonnet-4.5",
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: c.url } }] }],
      });
      await rejectsWith(
        toChatRequest(parsed, {
          config: defaultConfig({ imageUrlFetch: c.policy }),
          fetchImage: fetcher,
        }),
        {
          kind: "invalid_request",
          param: "messages.0.content.0.image_url.url",
          message: c.message,
        },
      );
      assert.equal(fetched, false, "the fetcher was not called");
    });
  }

  await t.step("off still reads data URLs", async () => {
    const parsed = parseChatCompletionsBody({
      model: "claude-sonnet-4.5",
      messages: [{
        role: "user",
        content: [{ type: "image_url", image_url: { url: `data:image/png;base64,${PNG_BASE64}` } }],
      }],
    });
    const chat = await toChatRequest(parsed, { config: defaultConfig({ imageUrlFetch: "off" }) });
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/png", data: PNG_BASE64 }]);
  });
});

Deno.test("toChatRequest carries structured output and forced tool choices", async (t) => {
  const tools = [{ type: "function", function: { name: "f", parameters: { type: "object" } } }];
  const messages = [{ role: "user", content: "Hi" }];
  const schema = { type: "object", properties: { a: { type: "string" } } };
  const cases: { name: string; body: Record<string, unknown>; check: (c: ChatRequest) => void }[] =
    [
      {
        name: "json_schema with its name, description and strictness",
        body: {
          messages,
          response_format: {
            type: "json_schema",
            json_schema: { name: "out", description: "d", schema, strict: true },
          },
        },
        check: (c) =>
          assert.deepEqual(c.responseFormat, {
            type: "json_schema",
            schema,
            name: "out",
            description: "d",
            strict: true,
          }),
      },
      {
        name: "json_object",
        body: { messages, response_format: { type: "json_object" } },
        check: (c) => assert.deepEqual(c.responseFormat, { type: "json_object" }),
      },
      {
        name: "text asks for nothing",
        body: { messages, response_format: { type: "text" } },
        check: (c) => assert.equal(c.responseFormat, undefined),
      },
      {
        name: "required",
        body: { messages, tools, tool_choice: "required" },
        check: (c) => assert.deepEqual(c.toolChoice, { type: "any" }),
      },
      {
        name: "a named function",
        body: { messages, tools, tool_choice: { type: "function", function: { name: "f" } } },
        check: (c) => assert.deepEqual(c.toolChoice, { type: "tool", name: "f" }),
      },
      {
        name: "allowed_tools in required mode",
        body: {
          messages,
          tools,
          tool_choice: { type: "allowed_tools", allowed_tools: { mode: "required", tools: [] } },
        },
        check: (c) => assert.deepEqual(c.toolChoice, { type: "any" }),
      },
      {
        name: "auto and none force nothing, none sends no tools",
        body: { messages, tools, tool_choice: "none" },
        check: (c) => {
          assert.equal(c.toolChoice, undefined);
          assert.deepEqual(c.tools, []);
        },
      },
    ];
  for (const c of cases) {
    await t.step(c.name, async () => c.check(await convert(c.body)));
  }
});

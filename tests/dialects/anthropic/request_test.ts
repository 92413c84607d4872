import assert from "node:assert/strict";
import { defaultConfig } from "../../../src/config.ts";
import { GatewayError } from "../../../src/errors.ts";
import { Logger } from "../../../src/log.ts";
import type { ImageFetcher } from "../../../src/core/images.ts";
import { toChatRequest } from "../../../src/dialects/anthropic/request.ts";
import { parseCountTokensBody, parseMessagesBody } from "../../../src/dialects/anthropic/schema.ts";

const PNG_BASE64 = btoa("\x89PNG fake bytes");

function options(fetchImage?: ImageFetcher) {
  const logs: string[] = [];
  return {
    logs,
    config: defaultConfig({ imageUrlFetch: "all" }),
    logger: new Logger({ level: "debug", write: (line) => logs.push(line) }),
    fetchImage,
  };
}

function body(extra: Record<string, unknown>) {
  return parseMessagesBody({
    model: "claude-sonnet-4.5",
    max_tokens: 1024,
    messages: [{ role: "user", content: "Hi" }],
    ...extra,
  });
}

function imageMessage(source: Record<string, unknown>) {
  return {
    messages: [{ role: "user", content: [{ type: "image", source }, { type: "text", text: "?" }] }],
  };
}

/** Checks that `err` is the 400 for the URL image of imageMessage, with `message` in it. */
function assertImageRefused(err: unknown, url: string, message: RegExp): void {
  assert.ok(err instanceof GatewayError);
  assert.equal(err.kind, "invalid_request");
  assert.ok(err.message.startsWith(`Cannot fetch image "${url}": `), err.message);
  assert.match(err.message, message);
  assert.equal(err.param, "messages.0.content.0.source.url");
}

Deno.test("toChatRequest converts system prompts, messages and tools", async (t) => {
  await t.step("a system string is kept as it is", async () => {
    const chat = await toChatRequest(body({ system: "Be brief." }), options());
    assert.equal(chat.system, "Be brief.");
  });

  await t.step("system text blocks with cache_control are joined with a newline", async () => {
    const chat = await toChatRequest(
      body({
        system: [
          { type: "text", text: "One.", cache_control: { type: "ephemeral" } },
          { type: "text", text: "Two." },
        ],
      }),
      options(),
    );
    assert.equal(chat.system, "One.\nTwo.");
  });

  await t.step("system messages among the turns join the system prompt in order", async () => {
    const chat = await toChatRequest(
      body({
        system: "Top.",
        messages: [
          { role: "user", content: "Hi" },
          {
            role: "system",
            content: [{ type: "text", text: "Env one." }, { type: "text", text: "Env two." }],
          },
          { role: "assistant", content: "Hello" },
          { role: "system", content: "Later." },
          { role: "user", content: "Go" },
        ],
      }),
      options(),
    );
    assert.equal(chat.system, "Top.\nEnv one.\nEnv two.\nLater.");
    assert.deepEqual(chat.messages.map((m) => [m.role, m.text]), [
      ["user", "Hi"],
      ["assistant", "Hello"],
      ["user", "Go"],
    ]);
  });

  await t.step("model, max_tokens and stream are carried over", async () => {
    const chat = await toChatRequest(body({ stream: true }), options());
    assert.equal(chat.model, "claude-sonnet-4.5");
    assert.equal(chat.maxOutputTokens, 1024);
    assert.equal(chat.stream, true);
  });

  await t.step("text blocks are joined and thinking blocks in history are dropped", async () => {
    const chat = await toChatRequest(
      body({
        messages: [
          { role: "user", content: [{ type: "text", text: "A" }, { type: "text", text: "B" }] },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "secret plan", signature: "sig" },
              { type: "redacted_thinking", data: "xyz" },
              { type: "text", text: "Answer" },
            ],
          },
          { role: "user", content: "Next" },
        ],
      }),
      options(),
    );
    assert.deepEqual(chat.messages.map((m) => [m.role, m.text]), [
      ["user", "A\nB"],
      ["assistant", "Answer"],
      ["user", "Next"],
    ]);
    assert.ok(!JSON.stringify(chat).includes("secret plan"));
  });

  await t.step("tool_use and tool_result blocks become tool calls and results", async () => {
    const chat = await toChatRequest(
      body({
        messages: [
          { role: "user", content: "List files" },
          {
            role: "assistant",
            content: [
              { type: "text", text: "Listing." },
              { type: "tool_use", id: "toolu_1", name: "bash", input: { cmd: "ls" } },
            ],
          },
          {
            role: "user",
            content: [
              {
                type: "tool_result",
                tool_use_id: "toolu_1",
                content: [
                  { type: "text", text: "a.txt" },
                  {
                    type: "image",
                    source: { type: "base64", media_type: "image/png", data: PNG_BASE64 },
                  },
                  { type: "tool_reference", tool_name: "grep" },
                  { type: "text", text: "b.txt" },
                ],
                is_error: true,
              },
              { type: "tool_result", tool_use_id: "toolu_2", content: "plain" },
              { type: "tool_result", tool_use_id: "toolu_3" },
            ],
          },
        ],
      }),
      options(),
    );
    assert.deepEqual(chat.messages[1]?.toolCalls, [
      { id: "toolu_1", name: "bash", input: { cmd: "ls" } },
    ]);
    const user = chat.messages[2];
    assert.deepEqual(user?.toolResults, [
      { toolUseId: "toolu_1", content: "a.txt\nb.txt", isError: true },
      { toolUseId: "toolu_2", content: "plain", isError: false },
      { toolUseId: "toolu_3", content: "", isError: false },
    ]);
    assert.deepEqual(user?.images, [{ mediaType: "image/png", data: PNG_BASE64 }]);
  });

  await t.step(
    "client tools are kept, web search is a setting, other server tools are dropped",
    async () => {
      const opts = options();
      const chat = await toChatRequest(
        body({
          tools: [
            { name: "bash", description: "Run", input_schema: { type: "object" } },
            { type: "custom", name: "noop", input_schema: { type: "object", properties: {} } },
            {
              type: "web_search_20250305",
              name: "web_search",
              max_uses: 3,
              allowed_domains: ["deno.com"],
            },
            { type: "code_execution_20250522", name: "code_execution" },
          ],
        }),
        opts,
      );
      assert.deepEqual(chat.tools, [
        { name: "bash", description: "Run", inputSchema: { type: "object" } },
        { name: "noop", description: "", inputSchema: { type: "object", properties: {} } },
      ]);
      assert.deepEqual(chat.webSearch, { mode: "loop", maxUses: 3, allowedDomains: ["deno.com"] });
      assert.ok(opts.logs.some((line) => line.includes("code_execution_20250522")));
      assert.ok(!opts.logs.some((line) => line.includes("web_search_20250305")));
    },
  );

  await t.step("a web search tool alone asks for a direct search", async () => {
    const chat = await toChatRequest(
      body({ tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 8 }] }),
      options(),
    );
    assert.deepEqual(chat.tools, []);
    assert.deepEqual(chat.webSearch, { mode: "direct", maxUses: 8 });
  });

  await t.step("plain-text documents become text and other documents are dropped", async () => {
    const opts = options();
    const chat = await toChatRequest(
      body({
        messages: [{
          role: "user",
          content: [
            { type: "document", source: { type: "text", media_type: "text/plain", data: "Doc" } },
            {
              type: "document",
              source: { type: "base64", media_type: "application/pdf", data: "x" },
            },
            { type: "search_result", source: "s", title: "t", content: [] },
            { type: "text", text: "Summarize" },
          ],
        }],
      }),
      opts,
    );
    assert.equal(chat.messages[0]?.text, "Doc\nSummarize");
    assert.ok(opts.logs.some((line) => line.includes("WARN") && line.includes("document")));
    assert.ok(opts.logs.some((line) => line.includes("search_result")));
  });
});

Deno.test("toChatRequest maps thinking settings", async (t) => {
  const cases: {
    name: string;
    extra: Record<string, unknown>;
    enabled: boolean;
    budget: number;
    effort?: string;
  }[] = [
    {
      name: "no thinking field thinks with the default budget",
      extra: {},
      enabled: true,
      budget: 4000,
    },
    {
      name: "an enabled budget is used",
      extra: { thinking: { type: "enabled", budget_tokens: 8000 } },
      enabled: true,
      budget: 8000,
      effort: "medium",
    },
    {
      name: "an enabled budget above the cap is capped",
      extra: { thinking: { type: "enabled", budget_tokens: 16000 } },
      enabled: true,
      budget: 10000,
      effort: "high",
    },
    {
      name: "disabled turns thinking off",
      extra: { thinking: { type: "disabled" } },
      enabled: false,
      budget: 0,
    },
    {
      name: "adaptive with a low effort halves the default",
      extra: { thinking: { type: "adaptive" }, output_config: { effort: "low" } },
      enabled: true,
      budget: 2000,
      effort: "low",
    },
    {
      name: "Claude Code's output_config.effort wins over the budget's range",
      extra: {
        thinking: { type: "enabled", budget_tokens: 31999 },
        output_config: { effort: "low" },
      },
      enabled: true,
      budget: 10000,
      effort: "low",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const chat = await toChatRequest(body(c.extra), options());
      const expected = { enabled: c.enabled, budgetTokens: c.budget };
      assert.deepEqual(chat.thinking, c.effort ? { ...expected, effort: c.effort } : expected);
    });
  }
});

Deno.test("toChatRequest reads images", async (t) => {
  await t.step("a base64 image keeps its media type", async () => {
    const chat = await toChatRequest(
      body(imageMessage({ type: "base64", media_type: "image/webp", data: PNG_BASE64 })),
      options(),
    );
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/webp", data: PNG_BASE64 }]);
  });

  await t.step("a data: prefix inside base64 data is stripped and its type wins", async () => {
    const chat = await toChatRequest(
      body(imageMessage({
        type: "base64",
        media_type: "image/jpeg",
        data: `data:image/png;base64,${PNG_BASE64}`,
      })),
      options(),
    );
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/png", data: PNG_BASE64 }]);
  });

  await t.step("a data URL source is decoded without fetching", async () => {
    const fetcher: ImageFetcher = () => Promise.reject(new Error("must not fetch"));
    const chat = await toChatRequest(
      body(imageMessage({ type: "url", url: `data:image/gif;base64,${PNG_BASE64}` })),
      options(fetcher),
    );
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/gif", data: PNG_BASE64 }]);
  });

  await t.step("a URL image is fetched through the injected fetcher", async () => {
    const seen: string[] = [];
    const fetcher: ImageFetcher = (url) => {
      seen.push(url);
      return Promise.resolve(
        new Response(new TextEncoder().encode("img"), { headers: { "content-type": "image/png" } }),
      );
    };
    const chat = await toChatRequest(
      body(imageMessage({ type: "url", url: "https://example.test/a.png" })),
      options(fetcher),
    );
    assert.deepEqual(seen, ["https://example.test/a.png"]);
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/png", data: btoa("img") }]);
  });

  const failures: { name: string; url: string; response?: () => Response; message: RegExp }[] = [
    {
      name: "an HTTP error status",
      url: "https://example.test/missing.png",
      response: () => new Response("nope", { status: 404 }),
      message: /the server answered 404/,
    },
    {
      name: "a content type that is not an image",
      url: "https://example.test/page",
      response: () => new Response("<html>", { headers: { "content-type": "text/html" } }),
      message: /content type "text\/html" is not an image/,
    },
    {
      name: "a body over the size cap",
      url: "https://example.test/big.png",
      response: () =>
        new Response(new Uint8Array(64), { headers: { "content-type": "image/png" } }),
      message: /larger than 16 bytes/,
    },
    {
      name: "a scheme other than http or https",
      url: "file:///etc/passwd",
      message: /only http and https/,
    },
  ];
  for (const c of failures) {
    await t.step(`${c.name} is a 400 naming the URL and the field`, async () => {
      const fetcher: ImageFetcher = () => Promise.resolve(c.response?.() ?? new Response(""));
      const err = await toChatRequest(body(imageMessage({ type: "url", url: c.url })), {
        ...options(fetcher),
        maxImageBytes: 16,
      }).then(() => undefined, (e: unknown) => e);
      assertImageRefused(err, c.url, c.message);
    });
  }

  await t.step("a fetch that never answers times out", async () => {
    const fetcher: ImageFetcher = (_url, init) =>
      new Promise((_, reject) => {
        init.signal.addEventListener("abort", () => reject(init.signal.reason), { once: true });
      });
    await assert.rejects(
      toChatRequest(body(imageMessage({ type: "url", url: "https://example.test/slow.png" })), {
        ...options(fetcher),
        imageTimeoutMs: 1,
      }),
      (err: unknown) => err instanceof GatewayError && /no answer within 1 ms/.test(err.message),
    );
  });
});

Deno.test("toChatRequest fetches URL images only as IMAGE_URL_FETCH allows", async (t) => {
  const policies: { name: string; policy: "public" | "off"; url: string; message: RegExp }[] = [
    {
      name: "off refuses every URL and says how to enable them",
      policy: "off",
      url: "https://example.test/a.png",
      message: /image URL fetching is off: .*set IMAGE_URL_FETCH=public to enable it$/,
    },
    {
      name: "public refuses a loopback address",
      policy: "public",
      url: "http://127.0.0.1:9/a.png",
      message: /host "127\.0\.0\.1" is not public: it is a loopback address/,
    },
    {
      name: "public refuses localhost",
      policy: "public",
      url: "http://localhost/a.png",
      message: /host "localhost" is not public: it is a local name/,
    },
  ];
  for (const c of policies) {
    await t.step(c.name, async () => {
      let fetched = false;
      const fetcher: ImageFetcher = () => {
        fetched = true;
        return Promise.resolve(new Response("img", { headers: { "content-type": "image/png" } }));
      };
      const err = await toChatRequest(body(imageMessage({ type: "url", url: c.url })), {
        ...options(fetcher),
        config: defaultConfig({ imageUrlFetch: c.policy }),
      }).then(() => undefined, (e: unknown) => e);
      assertImageRefused(err, c.url, c.message);
      assert.equal(fetched, false, "the fetcher was not called");
    });
  }

  await t.step("off still reads data URLs", async () => {
    const chat = await toChatRequest(
      body(imageMessage({ type: "url", url: `data:image/gif;base64,${PNG_BASE64}` })),
      { ...options(), config: defaultConfig({ imageUrlFetch: "off" }) },
    );
    assert.deepEqual(chat.messages[0]?.images, [{ mediaType: "image/gif", data: PNG_BASE64 }]);
  });

  await t.step("a data URL that is not an image is a 400 naming the field", async () => {
    const err = await toChatRequest(
      body(imageMessage({ type: "url", url: "data:text/plain;base64,AAAA" })),
      options(),
    ).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof GatewayError);
    assert.match(err.message, /^Cannot read image ".*": media type "text\/plain" is not an image$/);
    assert.equal(err.param, "messages.0.content.0.source.url");
  });
});

Deno.test("the body schemas name the failing field", async (t) => {
  const base = { model: "m", max_tokens: 10, messages: [{ role: "user", content: "Hi" }] };
  const cases: { name: string; body: unknown; message: string }[] = [
    {
      name: "missing max_tokens",
      body: { model: "m", messages: base.messages },
      message: "max_tokens: field required",
    },
    {
      name: "a tool role",
      body: { ...base, messages: [{ role: "tool", content: "x" }] },
      message: 'messages.0.role: invalid role "tool": expected "user", "assistant" or "system"',
    },
    {
      name: "no messages",
      body: { ...base, messages: [] },
      message: "messages: at least one message is required",
    },
    {
      name: "a tool_use block without an id",
      body: {
        ...base,
        messages: [{ role: "assistant", content: [{ type: "tool_use", name: "x", input: {} }] }],
      },
      message: "messages.0.content.0.id: field required",
    },
    {
      name: "content that is neither a string nor a list",
      body: { ...base, messages: [{ role: "user", content: 5 }] },
      message: "messages.0.content: expected a string or a list of blocks",
    },
    {
      name: "a text block without text inside a tool_result",
      body: {
        ...base,
        messages: [{
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "t", content: [{ type: "text" }] }],
        }],
      },
      message: "messages.0.content.0.content.0.text: field required",
    },
    {
      name: "a client tool without input_schema",
      body: { ...base, tools: [{ name: "x" }] },
      message: "tools.0.input_schema: field required",
    },
    {
      name: "a body that is not an object",
      body: [1, 2],
      message: "Invalid request body: expected a JSON object",
    },
  ];
  for (const c of cases) {
    await t.step(`${c.name} is rejected`, () => {
      assert.throws(
        () => parseMessagesBody(c.body),
        (err: unknown) =>
          err instanceof GatewayError && err.kind === "invalid_request" &&
          err.message === c.message,
      );
    });
  }

  await t.step("count_tokens bodies need no max_tokens and keep unknown fields", () => {
    const parsed = parseCountTokensBody({ model: "m", messages: base.messages, extra: 1 });
    assert.equal(parsed.model, "m");
  });
});

Deno.test("toChatRequest carries structured output and forced tool choices", async (t) => {
  const tools = [{ name: "f", input_schema: { type: "object" } }];
  const schema = { type: "object", properties: { title: { type: "string" } } };
  await t.step("output_config.format and the beta's output_format", async () => {
    for (
      const extra of [{ output_config: { format: { type: "json_schema", schema } } }, {
        output_format: { type: "json_schema", schema },
      }]
    ) {
      const chat = await toChatRequest(body(extra), options());
      assert.deepEqual(chat.responseFormat, { type: "json_schema", schema });
    }
  });

  await t.step("any and tool are forced choices", async () => {
    const any = await toChatRequest(body({ tools, tool_choice: { type: "any" } }), options());
    assert.deepEqual(any.toolChoice, { type: "any" });
    const named = await toChatRequest(
      body({ tools, tool_choice: { type: "tool", name: "f" } }),
      options(),
    );
    assert.deepEqual(named.toolChoice, { type: "tool", name: "f" });
  });

  await t.step("auto forces nothing and none sends no tools", async () => {
    const auto = await toChatRequest(body({ tools, tool_choice: { type: "auto" } }), options());
    assert.equal(auto.toolChoice, undefined);
    assert.equal(auto.tools.length, 1);
    const none = await toChatRequest(body({ tools, tool_choice: { type: "none" } }), options());
    assert.equal(none.toolChoice, undefined);
    assert.deepEqual(none.tools, []);
  });
});

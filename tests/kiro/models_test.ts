import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config.ts";
import { GatewayError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import {
  ModelCatalog,
  type ModelCatalogOptions,
  normalizeModelName,
} from "../../src/kiro/models.ts";
import { within } from "../helpers.ts";
import { NATIVE_REASONING_SCHEMA } from "../fake_kiro.ts";

Deno.test("normalizeModelName turns client names into Kiro ids", async (t) => {
  const cases: [string, string][] = [
    ["claude-haiku-4-5", "claude-haiku-4.5"],
    ["claude-sonnet-4-5", "claude-sonnet-4.5"],
    ["claude-opus-4-5", "claude-opus-4.5"],
    ["claude-haiku-4-5-20251001", "claude-haiku-4.5"],
    ["claude-sonnet-4-5-20250929", "claude-sonnet-4.5"],
    ["claude-opus-4-5-20251101", "claude-opus-4.5"],
    ["claude-haiku-4-5-latest", "claude-haiku-4.5"],
    ["claude-sonnet-4", "claude-sonnet-4"],
    ["claude-sonnet-4-20250514", "claude-sonnet-4"],
    ["claude-3-7-sonnet", "claude-3.7-sonnet"],
    ["claude-3-7-sonnet-20250219", "claude-3.7-sonnet"],
    ["claude-3-5-haiku", "claude-3.5-haiku"],
    ["claude-3-0-opus", "claude-3.0-opus"],
    ["claude-4.5-opus-high", "claude-opus-4.5"],
    ["claude-4.5-sonnet-low", "claude-sonnet-4.5"],
    ["claude-4.5-haiku-high", "claude-haiku-4.5"],
    ["claude-4.5-opus-high-thinking", "claude-opus-4.5"],
    ["CLAUDE-4.5-OPUS-HIGH", "claude-opus-4.5"],
    ["claude-4.5-sonnet", "claude-4.5-sonnet"],
    ["claude-3.7-sonnet", "claude-3.7-sonnet"],
    ["claude-haiku-4.5", "claude-haiku-4.5"],
    ["claude-sonnet-4.5", "claude-sonnet-4.5"],
    ["claude-haiku-4.5-20251001", "claude-haiku-4.5"],
    ["auto", "auto"],
    ["gpt-4", "gpt-4"],
    ["some-random-model", "some-random-model"],
    ["", ""],
    ["claude-sonnet-4-6", "claude-sonnet-4.6"],
    ["claude-opus-4-7", "claude-opus-4.7"],
    ["claude-sonnet-4-5[1m]", "claude-sonnet-4.5"],
    ["claude-sonnet-4.6[200K]", "claude-sonnet-4.6"],
    ["Some-Model[1m]", "Some-Model"],
    ["claude-unknown-model", "claude-unknown-model"],
  ];
  for (const [input, expected] of cases) {
    await t.step(`"${input}" becomes "${expected}"`, () => {
      assert.equal(normalizeModelName(input), expected);
    });
  }
});

function catalog(overrides: Partial<ModelCatalogOptions> = {}): ModelCatalog {
  return new ModelCatalog({
    fetchAccess: () => Promise.reject(new Error("offline")),
    config: defaultConfig(),
    logger: silentLogger(),
    ...overrides,
  });
}

Deno.test("ModelCatalog resolves names against the built-in list", async (t) => {
  const models = catalog();
  const cases: [string, string, "cache" | "passthrough", number][] = [
    ["claude-haiku-4-5", "claude-haiku-4.5", "cache", 200_000],
    ["claude-sonnet-4-6", "claude-sonnet-4.6", "cache", 1_000_000],
    ["claude-opus-4.6", "claude-opus-4.6", "cache", 1_000_000],
    ["auto-kiro", "auto", "cache", 200_000],
    ["AUTO-KIRO", "AUTO-KIRO", "passthrough", 200_000],
    ["claude-haiku-4-6", "claude-haiku-4.6", "passthrough", 200_000],
  ];
  for (const [name, modelId, source, contextWindow] of cases) {
    await t.step(`"${name}" resolves to "${modelId}" from ${source}`, () => {
      assert.deepEqual(models.resolve(name), { modelId, source, contextWindow });
    });
  }
});

Deno.test("ModelCatalog follows alias chains and rejects cycles", () => {
  const models = catalog({
    aliases: {
      "auto-kiro": "auto",
      fast: "quick",
      quick: "claude-haiku-4-5",
      "future-model": "claude-haiku-5.0",
      loop: "loop2",
      loop2: "loop",
    },
  });
  assert.deepEqual(models.resolve("fast"), {
    modelId: "claude-haiku-4.5",
    source: "cache",
    contextWindow: 200_000,
  });
  assert.equal(models.resolve("future-model").modelId, "claude-haiku-5.0");
  assert.equal(models.resolve("future-model").source, "passthrough");
  assert.throws(() => models.resolve("loop"), (err) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.kind, "invalid_request");
    assert.match(err.message, /loop -> loop2 -> loop/);
    return true;
  });
});

Deno.test("ModelCatalog lists the fallback models without auto but with aliases", async () => {
  const ids = (await catalog().list()).map((model) => model.id);
  assert.deepEqual(ids, [
    "auto-kiro",
    "claude-haiku-4.5",
    "claude-opus-4.5",
    "claude-opus-4.6",
    "claude-opus-4.7",
    "claude-sonnet-4",
    "claude-sonnet-4.5",
    "claude-sonnet-4.6",
    "deepseek-3.2",
    "glm-5",
    "minimax-m2.1",
    "minimax-m2.5",
    "qwen3-coder-next",
  ]);
});

interface FakeManagement extends AsyncDisposable {
  url: string;
  requests: URL[];
  authorizations: (string | null)[];
  status: number;
}

function startFakeManagement(): FakeManagement {
  const fake = { requests: [] as URL[], authorizations: [] as (string | null)[], status: 200 };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const url = new URL(req.url);
    fake.requests.push(url);
    fake.authorizations.push(req.headers.get("authorization"));
    if (fake.status !== 200) return new Response("boom", { status: fake.status });
    if (url.searchParams.get("nextToken") === null) {
      return Response.json({
        models: [
          {
            modelId: "claude-sonnet-4.5",
            modelName: "Claude Sonnet 4.5",
            tokenLimits: { maxInputTokens: 200000, maxOutputTokens: 64000 },
          },
          { modelId: "auto", modelName: "Auto" },
        ],
        nextToken: "page-2",
      });
    }
    return Response.json({
      models: [
        {
          modelId: "claude-opus-5",
          modelName: "Claude Opus 5",
          tokenLimits: { maxInputTokens: 500000 },
          additionalModelRequestFieldsSchema: NATIVE_REASONING_SCHEMA,
        },
        { modelName: "no id, skipped" },
      ],
    });
  });
  return Object.assign(fake, {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  });
}

function liveCatalog(fake: FakeManagement, clock: { now: number }): ModelCatalog {
  return catalog({
    config: defaultConfig({ upstream: { management: fake.url } }),
    now: () => clock.now,
    fetchAccess: () =>
      Promise.resolve({
        accessToken: "access-1",
        profileArn: "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC",
        apiRegion: "us-east-1",
      }),
  });
}

Deno.test("ModelCatalog loads every page of ListAvailableModels", async () => {
  await using fake = startFakeManagement();
  const clock = { now: 1_000_000 };
  const models = liveCatalog(fake, clock);
  const list = await within(models.list());
  assert.equal(fake.requests.length, 2);
  const first = fake.requests[0] as URL;
  assert.equal(first.pathname, "/ListAvailableModels");
  assert.equal(first.searchParams.get("origin"), "AI_EDITOR");
  assert.equal(
    first.searchParams.get("profileArn"),
    "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC",
  );
  assert.equal(fake.requests[1]?.searchParams.get("nextToken"), "page-2");
  assert.deepEqual(fake.authorizations, ["Bearer access-1", "Bearer access-1"]);
  assert.equal(models.source, "live");
  assert.deepEqual(list, [
    { id: "auto-kiro", displayName: "auto-kiro", contextWindow: 200_000 },
    { id: "claude-opus-5", displayName: "Claude Opus 5", contextWindow: 500_000 },
    {
      id: "claude-sonnet-4.5",
      displayName: "Claude Sonnet 4.5",
      contextWindow: 200_000,
      maxOutputTokens: 64000,
    },
  ]);
  assert.deepEqual(models.resolve("claude-opus-5"), {
    modelId: "claude-opus-5",
    source: "cache",
    contextWindow: 500_000,
    nativeReasoning: {
      style: "output_config",
      efforts: ["low", "medium", "high", "max"],
      defaultEffort: "high",
      displays: ["summarized", "omitted"],
    },
  });
  assert.equal(models.resolve("claude-sonnet-4.5").nativeReasoning, undefined);
  assert.equal(models.resolve("claude-haiku-4-5").source, "passthrough");
});

Deno.test("ModelCatalog reuses its list for an hour, then fetches it again", async () => {
  await using fake = startFakeManagement();
  const clock = { now: 1_000_000 };
  const models = liveCatalog(fake, clock);
  await within(Promise.all([models.list(), models.list()]));
  assert.equal(fake.requests.length, 2, "concurrent calls share one load");
  clock.now += 3_599_999;
  await within(models.list());
  assert.equal(fake.requests.length, 2, "a list younger than an hour is reused");
  clock.now += 1;
  await within(models.list());
  assert.equal(fake.requests.length, 4, "an hour-old list is fetched again");
});

Deno.test("ModelCatalog falls back to the built-in list when Kiro fails", async () => {
  await using fake = startFakeManagement();
  fake.status = 500;
  const clock = { now: 1_000_000 };
  const models = liveCatalog(fake, clock);
  const ids = (await within(models.list())).map((model) => model.id);
  assert.equal(models.source, "fallback");
  assert.ok(ids.includes("claude-sonnet-4.6"));
  assert.ok(!ids.includes("auto"));
  assert.equal(fake.requests.length, 1);
  fake.status = 200;
  clock.now += 300_000;
  await within(models.list());
  assert.equal(models.source, "live", "a failed load is retried after five minutes");
});

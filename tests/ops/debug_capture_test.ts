import assert from "node:assert/strict";
import { join } from "node:path";
import type { DebugMode } from "../../src/config.ts";
import type { ChatBackend, SendContext } from "../../src/core/backend.ts";
import type { ChatEvent, ChatRequest } from "../../src/core/chat.ts";
import { DebugRecorder, scrubText } from "../../src/debug_capture.ts";
import { GatewayError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import { FAKE_MODELS } from "../fake_backend.ts";
import { tempDir } from "../helpers.ts";
import { startTestGateway, TEST_API_KEY } from "../test_gateway.ts";

const UPSTREAM_TOKEN = "aoaUPSTREAMACCESSTOKEN0123456789";
const CLIENT_SECRET = "Bearer sk-client-secret-0123456789";

/** A backend that feeds the capture like KiroBackend does, then streams `events`. */
function capturingBackend(events: () => ChatEvent[]): ChatBackend {
  const send = (chat: ChatRequest, _signal: AbortSignal, context?: SendContext) => {
    context?.capture?.recordKiroRequest(
      JSON.stringify({ conversationState: { model: chat.model }, accessToken: UPSTREAM_TOKEN }),
    );
    context?.capture?.recordUpstreamChunk(new TextEncoder().encode("raw upstream bytes"));
    context?.logger?.info("Calling Kiro", { authorization: `Bearer ${UPSTREAM_TOKEN}` });
    const replay = events();
    for (const event of replay) context?.onEvent?.(event);
    return Promise.resolve(ReadableStream.from(replay));
  };
  return {
    send,
    countInputTokens: () => 1,
    listModels: () => Promise.resolve(FAKE_MODELS),
  };
}

const OK_EVENTS = (): ChatEvent[] => [
  { type: "text", text: "Hello!" },
  { type: "end", stopReason: "end_turn", usage: { inputTokens: 3, outputTokens: 2 } },
];

const FAILING_EVENTS = (): ChatEvent[] => [
  { type: "text", text: "Hel" },
  { type: "error", error: new GatewayError("upstream_timeout", "Kiro stopped sending") },
];

function chatBody(stream: boolean) {
  return {
    model: "claude-sonnet-4.5",
    stream,
    messages: [{ role: "user", content: `Use ${CLIENT_SECRET} please` }],
  };
}

function startCapturing(mode: DebugMode, dir: string, keep: number, events = OK_EVENTS) {
  const logger = new Logger({ level: "debug", write: () => {} });
  let now = Date.parse("2026-01-01T00:00:00Z");
  const recorder = new DebugRecorder({
    mode,
    dir,
    keep,
    logger,
    now: () => now++,
    secrets: () => [TEST_API_KEY],
  });
  return startTestGateway({
    backend: capturingBackend(events),
    deps: { logger, debug: recorder },
  });
}

async function folders(dir: string): Promise<string[]> {
  try {
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    return names.sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

async function readAll(folder: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(folder)) {
    files[entry.name] = await Deno.readTextFile(join(folder, entry.name));
  }
  return files;
}

function assertNoSecrets(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    assert.ok(!text.includes(UPSTREAM_TOKEN), `${name} holds the upstream token`);
    assert.ok(!text.includes("sk-client-secret-0123456789"), `${name} holds the client secret`);
  }
}

Deno.test("DEBUG_MODE=all writes every chat request into its own redacted folder", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "debug");
  await using gateway = startCapturing("all", dir, 5);
  const res = await gateway.post("/v1/chat/completions", chatBody(true));
  const text = await res.text();
  assert.equal(res.status, 200);
  const id = res.headers.get("x-request-id")!;
  const [folder, ...others] = await folders(dir);
  assert.deepEqual(others, []);
  assert.match(folder!, new RegExp(`^2026-01-01T00-00-00-\\d{3}Z_${id}$`));
  const files = await readAll(join(dir, folder!));
  assert.deepEqual(Object.keys(files).sort(), [
    "app_logs.txt",
    "kiro_request_body.json",
    "request_body.json",
    "response_stream_modified.txt",
    "response_stream_raw.txt",
  ]);
  assert.equal(JSON.parse(files["request_body.json"]!).model, "claude-sonnet-4.5");
  assert.equal(files["response_stream_modified.txt"], text);
  assert.equal(files["response_stream_raw.txt"], "raw upstream bytes");
  assert.match(files["app_logs.txt"]!, /Calling Kiro/);
  assert.match(files["app_logs.txt"]!, /request .*status=200/);
  assertNoSecrets(files);
});

Deno.test({
  name: "captures are readable by the gateway's user only: folders 0700, files 0600",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using tmp = await tempDir();
    const dir = join(tmp.path, "debug");
    await using gateway = startCapturing("all", dir, 5);
    const res = await gateway.post("/v1/chat/completions", chatBody(false));
    await res.text();
    const modeOf = async (path: string) => ((await Deno.stat(path)).mode ?? 0) & 0o777;
    assert.equal(await modeOf(dir), 0o700, "DEBUG_DIR");
    const [folder] = await folders(dir);
    assert.equal(await modeOf(join(dir, folder!)), 0o700, folder);
    const names = Object.keys(await readAll(join(dir, folder!)));
    assert.ok(names.length >= 4, names.join(" "));
    for (const name of names) {
      assert.equal(await modeOf(join(dir, folder!, name)), 0o600, name);
    }
  },
});

Deno.test("DEBUG_KEEP keeps only the newest request folders", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "debug");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "notes.txt"), "not a capture");
  await using gateway = startCapturing("all", dir, 2);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await gateway.post("/v1/chat/completions", chatBody(false));
    await res.text(); // the body ends only after the capture is written
    ids.push(res.headers.get("x-request-id")!);
  }
  const kept = await folders(dir);
  assert.equal(kept.length, 3, kept.join(" "));
  assert.ok(kept.includes("notes.txt"), "files that are not captures are left alone");
  const captured = kept.filter((name) => name !== "notes.txt");
  assert.deepEqual(captured.map((name) => name.split("_").slice(1).join("_")), ids.slice(2));
});

Deno.test("DEBUG_MODE=errors writes only failed requests", async (t) => {
  await t.step("a successful request leaves nothing", async () => {
    await using tmp = await tempDir();
    const dir = join(tmp.path, "debug");
    await using gateway = startCapturing("errors", dir, 5);
    const res = await gateway.post("/v1/chat/completions", chatBody(true));
    await res.text();
    assert.deepEqual(await folders(dir), []);
  });
  await t.step("an invalid body is captured raw with error_info.json", async () => {
    await using tmp = await tempDir();
    const dir = join(tmp.path, "debug");
    await using gateway = startCapturing("errors", dir, 5);
    const res = await gateway.post("/v1/messages", `{"model": ${JSON.stringify(CLIENT_SECRET)}`);
    await res.text();
    assert.equal(res.status, 400);
    const [folder] = await folders(dir);
    const files = await readAll(join(dir, folder!));
    assert.ok(files["request_body.json"]!.startsWith('{"model": "Bearer sk-c'));
    const info = JSON.parse(files["error_info.json"]!);
    assert.equal(info.status_code, 400);
    assert.match(info.error_message, /JSON/);
    assertNoSecrets(files);
  });
  await t.step("an in-band stream error is captured", async () => {
    await using tmp = await tempDir();
    const dir = join(tmp.path, "debug");
    await using gateway = startCapturing("errors", dir, 5, FAILING_EVENTS);
    const res = await gateway.post("/v1/chat/completions", chatBody(true));
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /Kiro stopped sending/);
    const [folder] = await folders(dir);
    const files = await readAll(join(dir, folder!));
    const info = JSON.parse(files["error_info.json"]!);
    assert.deepEqual(info, { status_code: 200, error_message: "Kiro stopped sending" });
    assertNoSecrets(files);
  });
});

Deno.test("DEBUG_MODE=off and other routes write nothing", async (t) => {
  await t.step("off", async () => {
    await using tmp = await tempDir();
    const dir = join(tmp.path, "debug");
    await using gateway = startCapturing("off", dir, 5, FAILING_EVENTS);
    const res = await gateway.post("/v1/chat/completions", chatBody(true));
    await res.text();
    assert.deepEqual(await folders(dir), []);
  });
  await t.step("GET /v1/models under all", async () => {
    await using tmp = await tempDir();
    const dir = join(tmp.path, "debug");
    await using gateway = startCapturing("all", dir, 5);
    const res = await gateway.get("/v1/models");
    await res.text();
    assert.deepEqual(await folders(dir), []);
  });
});

Deno.test("scrubText hides bearer credentials, Kiro tokens, known values and secret fields", () => {
  const text = [
    `authorization: Bearer abcdefghijklmnop`,
    `token ${UPSTREAM_TOKEN}`,
    `key ${TEST_API_KEY}-and-more-0123`,
    `{"refreshToken":"plain-refresh-value-1234","max_tokens":"keep"}`,
  ].join("\n");
  const out = scrubText(text, [`${TEST_API_KEY}-and-more-0123`]);
  assert.ok(!out.includes("abcdefghijklmnop"));
  assert.ok(!out.includes(UPSTREAM_TOKEN));
  assert.ok(!out.includes("and-more-0123"));
  assert.ok(!out.includes("plain-refresh-value-1234"));
  assert.match(out, /Bearer abcd…\(16 chars\)/);
});

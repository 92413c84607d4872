import assert from "node:assert/strict";
import { createFakeBackend } from "./fake_backend.ts";
import { within } from "./helpers.ts";
import { startTestGateway, TEST_API_KEY } from "./test_gateway.ts";
import { constantTimeEquals } from "../src/server.ts";
import { MemoryState } from "../src/state/state.ts";

Deno.test("GET / and /health answer without a key and show no secrets", async () => {
  const credentials = {
    source: "json_file",
    path: "/home/someone/.aws/sso/cache/kiro-auth-token.json",
    expiresAt: "2030-01-01T00:00:00Z",
  };
  await using gateway = startTestGateway({
    backend: createFakeBackend(),
    deps: { credentials: { status: () => credentials } },
  });
  const root = await fetch(`${gateway.url}/`);
  assert.equal(root.status, 200);
  assert.equal((await root.json()).status, "ok");
  const health = await fetch(`${gateway.url}/health`, { headers: { origin: "https://evil.test" } });
  const body = await health.json();
  assert.equal(body.status, "ok");
  assert.equal(typeof body.version, "string");
  assert.equal(typeof body.uptimeSeconds, "number");
  assert.equal(body.credentials, undefined, "no credential details without the key");
  assert.ok(!JSON.stringify(body).includes("/home/someone"), "no credential path without the key");
  assert.ok(!JSON.stringify(body).includes(TEST_API_KEY));
  const wrongKey = await fetch(`${gateway.url}/health`, { headers: { "x-api-key": "wrong" } });
  assert.equal((await wrongKey.json()).credentials, undefined);
});

Deno.test("GET /health shows credential details to callers presenting the key", async () => {
  const credentials = { source: "json_file", path: "/secure/kiro.json" };
  await using gateway = startTestGateway({
    backend: createFakeBackend(),
    deps: { credentials: { status: () => credentials } },
  });
  const res = await gateway.get("/health");
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.deepEqual(body.credentials, credentials);
});

Deno.test("/health says degraded while the shared state store is unreachable", async () => {
  const state = new MemoryState();
  let connected = false;
  state.describe = () => ({ backend: "redis", connected });
  await using gateway = startTestGateway({ backend: createFakeBackend(), deps: { state } });
  const down = await (await fetch(`${gateway.url}/health`)).json();
  assert.equal(down.status, "degraded");
  assert.equal(down.state, undefined, "the state store is described with the key only");
  const keyed = await (await gateway.get("/health")).json();
  assert.deepEqual(keyed.state, { backend: "redis", connected: false });
  connected = true;
  const up = await (await fetch(`${gateway.url}/health`)).json();
  assert.equal(up.status, "ok");
});

Deno.test("the API key is accepted from either header and refused otherwise", async (t) => {
  await using gateway = startTestGateway({ backend: createFakeBackend() });
  const models = (headers: Record<string, string>) =>
    fetch(`${gateway.url}/v1/models`, { headers });
  await t.step("Authorization: Bearer", async () => {
    const res = await models({ authorization: `Bearer ${TEST_API_KEY}` });
    await res.body?.cancel();
    assert.notEqual(res.status, 401);
  });
  await t.step("x-api-key", async () => {
    const res = await models({ "x-api-key": TEST_API_KEY });
    await res.body?.cancel();
    assert.notEqual(res.status, 401);
  });
  await t.step("no key: 401 in OpenAI's shape", async () => {
    const res = await models({});
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.error.type, "authentication_error");
    assert.match(body.error.message, /PROXY_API_KEY/);
  });
  await t.step("wrong key on /v1/messages: 401 in Anthropic's shape", async () => {
    const res = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "wrong", "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(res.status, 401);
    assert.deepEqual(Object.keys(await res.json()), ["type", "error"]);
  });
  await t.step("a key that is a prefix of the real one is refused", async () => {
    const res = await models({ authorization: `Bearer ${TEST_API_KEY.slice(0, -1)}` });
    await res.body?.cancel();
    assert.equal(res.status, 401);
  });
});

Deno.test("constantTimeEquals compares whole strings", () => {
  assert.equal(constantTimeEquals("abc", "abc"), true);
  assert.equal(constantTimeEquals("abc", "abd"), false);
  assert.equal(constantTimeEquals("ab", "abc"), false);
  assert.equal(constantTimeEquals("", "a"), false);
  assert.equal(constantTimeEquals("ключ", "ключ"), true);
});

Deno.test("CORS preflight is answered for any route", async () => {
  await using gateway = startTestGateway({ backend: createFakeBackend() });
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: "OPTIONS",
    headers: { origin: "http://example.test", "access-control-request-method": "POST" },
  });
  await res.body?.cancel();
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  assert.match(res.headers.get("access-control-allow-methods") ?? "", /POST/);
});

Deno.test("unknown routes and methods get JSON 404 and 405 in the caller's dialect", async (t) => {
  await using gateway = startTestGateway({ backend: createFakeBackend() });
  await t.step("404 in OpenAI's shape", async () => {
    const res = await gateway.get("/v1/nothing");
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.equal(body.error.code, "not_found");
    assert.match(body.error.message, /GET \/v1\/nothing/);
  });
  await t.step("405 in Anthropic's shape", async () => {
    const res = await gateway.get("/v1/messages");
    assert.equal(res.status, 405);
    const body = await res.json();
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /accepts POST/);
  });
});

Deno.test("every response carries a request id", async () => {
  await using gateway = startTestGateway({ backend: createFakeBackend() });
  const a = await fetch(`${gateway.url}/health`);
  const b = await gateway.get("/v1/nothing");
  await a.body?.cancel();
  await b.body?.cancel();
  const idA = a.headers.get("x-request-id");
  const idB = b.headers.get("x-request-id");
  assert.match(idA ?? "", /^req_[0-9a-f]{24}$/);
  assert.match(idB ?? "", /^req_[0-9a-f]{24}$/);
  assert.notEqual(idA, idB);
});

Deno.test("an unexpected failure is a 500 without a stack trace, logged with its request id", async () => {
  const backend = createFakeBackend();
  backend.listModels = () => Promise.reject(new Error("boom at secret place"));
  await using gateway = startTestGateway({ backend });
  const res = await gateway.get("/v1/models");
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.ok(!text.includes("boom"), text);
  assert.ok(!text.includes(".ts:"), text);
  const id = res.headers.get("x-request-id")!;
  assert.ok(gateway.logs.some((line) => line.includes("boom") && line.includes(id)));
});

/** Every POST route that reads a body, with the error shape of its dialect. */
const BODY_ROUTES: { path: string; dialect: "openai" | "anthropic" }[] = [
  { path: "/v1/chat/completions", dialect: "openai" },
  { path: "/v1/responses", dialect: "openai" }, // the Responses API uses OpenAI's error body
  { path: "/v1/messages", dialect: "anthropic" },
  { path: "/v1/messages/count_tokens", dialect: "anthropic" },
];

function assertTooLarge(
  dialect: "openai" | "anthropic",
  res: Response,
  body: Record<string, unknown>,
) {
  assert.equal(res.status, 413);
  const error = body.error as { type: string; message: string };
  if (dialect === "anthropic") assert.equal(body.type, "error");
  assert.equal(error.type, dialect === "anthropic" ? "request_too_large" : "invalid_request_error");
  assert.equal(error.message, "Request body is too large: the limit is 4096 bytes");
}

Deno.test("every route refuses a body over the limit the same way, declared or streamed", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend, deps: { maxBodyBytes: 4096 } });
  const big = JSON.stringify({
    model: "claude-sonnet-4.5",
    max_tokens: 10,
    messages: [{ role: "user", content: "x".repeat(5000) }],
  });
  for (const { path, dialect } of BODY_ROUTES) {
    await t.step(`${path}: Content-Length over the limit`, async () => {
      const res = await gateway.post(path, big, { "x-api-key": TEST_API_KEY });
      assertTooLarge(dialect, res, await res.json());
    });
    await t.step(`${path}: a streamed body is refused once it passes the limit`, async () => {
      // A raw connection sends 8 KB in chunks and never ends the body: the answer can only
      // come from the limit, not from reading the body to its end.
      const port = Number(new URL(gateway.url).port);
      using conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const encoder = new TextEncoder();
      await conn.write(encoder.encode(
        `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${TEST_API_KEY}\r\n` +
          "content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
      ));
      for (let i = 0; i < 8; i++) {
        await conn.write(encoder.encode(`400\r\n${" ".repeat(1024)}\r\n`));
      }
      const answer = await within(readHttpResponse(conn), 5000, "the 413 answer");
      assert.match(answer.head, /^HTTP\/1\.1 413 /);
      assertTooLarge(dialect, { status: 413 } as Response, JSON.parse(answer.body));
    });
  }
  assert.equal(backend.requests.length, 0, "nothing was sent upstream");
});

/** Reads one HTTP/1.1 response (content-length or chunked body) from a raw connection. */
async function readHttpResponse(conn: Deno.Conn): Promise<{ head: string; body: string }> {
  const decoder = new TextDecoder();
  let text = "";
  const buffer = new Uint8Array(65536);
  for (;;) {
    const split = text.indexOf("\r\n\r\n");
    if (split >= 0) {
      const head = text.slice(0, split);
      const rest = text.slice(split + 4);
      if (/transfer-encoding: chunked/i.test(head)) {
        if (rest.endsWith("0\r\n\r\n")) {
          // Chunk sizes are hex lines; the JSON bodies here hold no CRLF of their own.
          const body = rest.split("\r\n").filter((_, i) => i % 2 === 1).join("");
          return { head, body };
        }
      } else {
        const length = Number(head.match(/content-length: (\d+)/i)?.[1] ?? "0");
        if (new TextEncoder().encode(rest).byteLength >= length) return { head, body: rest };
      }
    }
    const read = await conn.read(buffer);
    if (read === null) throw new Error(`the connection closed after: ${text}`);
    text += decoder.decode(buffer.subarray(0, read), { stream: true });
  }
}

Deno.test("every route refuses a body with invalid UTF-8 with a 400 in its dialect", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend });
  const valid = new TextEncoder().encode(JSON.stringify({
    model: "claude-sonnet-4.5",
    max_tokens: 10,
    messages: [{ role: "user", content: "caf\u00e9" }],
  }));
  const at = valid.indexOf(0xc3);
  const broken = valid.slice();
  broken[at] = 0xff; // "caf\xff\xa9": replaced by U+FFFD before, refused now
  for (const { path, dialect } of BODY_ROUTES) {
    await t.step(path, async () => {
      const res = await fetch(`${gateway.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": TEST_API_KEY },
        body: broken,
      });
      const body = await res.json();
      assert.equal(res.status, 400);
      if (dialect === "anthropic") assert.equal(body.type, "error");
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(
        body.error.message,
        `Invalid request: the body is not valid UTF-8: invalid byte sequence at byte ${at}`,
      );
    });
  }
  assert.equal(backend.requests.length, 0, "nothing was sent upstream");
});

Deno.test("every route refuses a body that stops arriving with a 408 in its dialect", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend, deps: { bodyTimeoutMs: 200 } });
  const port = Number(new URL(gateway.url).port);
  for (const { path, dialect } of BODY_ROUTES) {
    await t.step(path, async () => {
      // Headers promise 100 bytes; 10 come, then nothing: only the deadline can answer.
      using conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode(
        `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${TEST_API_KEY}\r\n` +
          'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"model":',
      ));
      const answer = await within(readHttpResponse(conn), 5000, "the 408 answer");
      assert.match(answer.head, /^HTTP\/1\.1 408 /);
      const body = JSON.parse(answer.body);
      if (dialect === "anthropic") assert.equal(body.type, "error");
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(body.error.message, "Request body did not arrive in time: the limit is 0.2 s");
    });
  }
  await t.step("a request refused before its body is read starts no clock", async () => {
    const res = await fetch(`${gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "wrong" },
      body: "{}",
    });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  });
  assert.equal(backend.requests.length, 0, "nothing was sent upstream");
});

Deno.test("every route refuses JSON nested thousands of levels deep with a 400, not a 502", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend });
  const deep = `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`;
  const body = `{"model":"claude-sonnet-4.5","max_tokens":10,"input":"hi",` +
    `"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"t","input_schema":` +
    `{"type":"object","properties":{"x":${deep}}}}]}`;
  for (const { path, dialect } of BODY_ROUTES) {
    await t.step(path, async () => {
      const res = await gateway.post(path, body, { "x-api-key": TEST_API_KEY });
      const answer = await res.json();
      assert.equal(res.status, 400, JSON.stringify(answer));
      if (dialect === "anthropic") assert.equal(answer.type, "error");
      assert.equal(
        answer.error.message,
        "Invalid request: the body nests objects and lists deeper than 128 levels",
      );
    });
  }
  assert.equal(backend.requests.length, 0, "nothing was sent upstream");
});

import assert from "node:assert/strict";
import OpenAI from "openai";
import type { ChatEvent } from "../../../src/core/chat.ts";
import { ResponseStore } from "../../../src/dialects/responses/store.ts";
import { MemoryState } from "../../../src/state/state.ts";
import { createFakeBackend } from "../../fake_backend.ts";
import { startTestGateway, TEST_API_KEY, type TestGateway } from "../../test_gateway.ts";

const MODEL = "claude-sonnet-4-5";
const END: ChatEvent = {
  type: "end",
  stopReason: "end_turn",
  usage: { inputTokens: 3, outputTokens: 2 },
};

function clientFor(gateway: TestGateway): OpenAI {
  return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: TEST_API_KEY, maxRetries: 0 });
}

function send(gateway: TestGateway, method: string, path: string): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_API_KEY}` },
  });
}

/** Twelve input items: a user message, then alternating assistant and user text. */
const LONG_INPUT = Array.from({ length: 12 }, (_, i) => ({
  role: i % 2 === 0 ? "user" as const : "assistant" as const,
  content: `turn ${i}`,
}));

function textsOf(items: { type: string; content?: unknown }[]): string[] {
  return items.map((item) => {
    const parts = item.content as { text: string }[];
    return parts.map((p) => p.text).join("");
  });
}

Deno.test("GET /v1/responses/{id}/input_items lists a stored response's input", async (t) => {
  const backend = createFakeBackend();
  await using gateway = startTestGateway({ backend });
  const client = clientFor(gateway);

  backend.script({ events: [{ type: "text", text: "Done." }, END] });
  const response = await client.responses.create({ model: MODEL, input: LONG_INPUT });

  await t.step("the SDK pages through all items, newest first by default", async () => {
    const first = await client.responses.inputItems.list(response.id, { limit: 5 });
    assert.equal(first.data.length, 5);
    assert.equal(first.has_more, true);
    const all = [];
    for await (const item of client.responses.inputItems.list(response.id, { limit: 5 })) {
      all.push(item);
    }
    assert.deepEqual(
      textsOf(all as { type: string }[]),
      LONG_INPUT.map((m) => m.content).reverse(),
    );
    assert.equal(new Set(all.map((item) => item.id)).size, 12, "every item has its own id");
  });

  await t.step("order=asc lists oldest first; messages have typed parts", async () => {
    const page = await client.responses.inputItems.list(response.id, { order: "asc" });
    assert.equal(page.has_more, false);
    assert.deepEqual(textsOf(page.data as { type: string }[]), LONG_INPUT.map((m) => m.content));
    const [user, assistant] = page.data;
    assert.deepEqual(
      { type: user!.type, role: (user as { role: string }).role },
      { type: "message", role: "user" },
    );
    assert.equal((user as { content: { type: string }[] }).content[0]!.type, "input_text");
    assert.equal((assistant as { content: { type: string }[] }).content[0]!.type, "output_text");
  });

  await t.step("the list object carries first_id, last_id and has_more", async () => {
    const res = await send(gateway, "GET", `/v1/responses/${response.id}/input_items?limit=2`);
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.object, "list");
    assert.equal(body.data.length, 2);
    assert.equal(body.first_id, body.data[0].id);
    assert.equal(body.last_id, body.data[1].id);
    assert.equal(body.has_more, true);
    const next = await (await send(
      gateway,
      "GET",
      `/v1/responses/${response.id}/input_items?limit=100&after=${body.last_id}`,
    )).json();
    assert.equal(next.data.length, 10);
    assert.equal(next.has_more, false);
    assert.equal(next.data[0].content[0].text, "turn 9");
  });

  await t.step("a chained response lists only its own input, with the client's ids", async () => {
    backend.script({ events: [{ type: "text", text: "Again." }, END] });
    const second = await client.responses.create({
      model: MODEL,
      previous_response_id: response.id,
      input: [
        {
          type: "message",
          role: "assistant",
          id: "msg_client1",
          status: "completed",
          content: [{ type: "output_text", text: "noted", annotations: [] }],
        },
        { role: "user", content: "more" },
      ],
    });
    const page = await client.responses.inputItems.list(second.id, { order: "asc" });
    assert.equal(page.data.length, 2);
    assert.equal(page.data[0]!.id, "msg_client1");
    assert.deepEqual(textsOf(page.data as { type: string }[]), ["noted", "more"]);
  });

  for (
    const [query, param] of [
      ["limit=0", "limit"],
      ["limit=101", "limit"],
      ["limit=ten", "limit"],
      ["order=newest", "order"],
      ["after=msg_nowhere", "after"],
    ]
  ) {
    await t.step(`${query} is a 400 naming "${param}"`, async () => {
      const res = await send(gateway, "GET", `/v1/responses/${response.id}/input_items?${query}`);
      const body = await res.json();
      assert.equal(res.status, 400);
      assert.equal(body.error.type, "invalid_request_error");
      assert.equal(body.error.param, param);
      assert.ok(body.error.message.includes(`"${param}"`), body.error.message);
    });
  }

  await t.step("the SDK reports a bad limit as a 400 BadRequestError", async () => {
    const err = await client.responses.inputItems.list(response.id, { limit: 500 }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.param, "limit");
  });

  await t.step("an unknown response is a 404 in OpenAI's shape", async () => {
    const err = await client.responses.inputItems.list("resp_missing").catch((e) => e);
    assert.ok(err instanceof OpenAI.NotFoundError, String(err));
    const res = await send(gateway, "GET", "/v1/responses/resp_missing/input_items");
    assert.deepEqual(await res.json(), {
      error: {
        message: 'No response found with id "resp_missing"',
        type: "invalid_request_error",
        param: "response_id",
        code: "not_found",
      },
    });
  });

  await t.step("without the key it is a 401", async () => {
    const res = await fetch(`${gateway.url}/v1/responses/${response.id}/input_items`);
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.type, "authentication_error");
  });
});

Deno.test("DELETE /v1/responses/{id} forgets a stored response", async (t) => {
  const backend = createFakeBackend();
  const state = new MemoryState();
  await using gateway = startTestGateway({ backend, deps: { state } });
  const client = clientFor(gateway);

  backend.script({ events: [{ type: "text", text: "Keep me." }, END] });
  const response = await client.responses.create({ model: MODEL, input: "Hi" });
  const itemId = response.output[0]!.id!;
  assert.equal(await state.get(`responses:item:${itemId}`), response.id);

  await t.step("DELETE answers the deletion object and forgets the items", async () => {
    const res = await send(gateway, "DELETE", `/v1/responses/${response.id}`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: response.id, object: "response", deleted: true });
    assert.equal(await state.get(`responses:item:${itemId}`), undefined, "its items forgotten");
  });

  await t.step("a deleted response is gone for GET, input_items and DELETE", async () => {
    for (
      const call of [
        () => client.responses.retrieve(response.id),
        () => client.responses.inputItems.list(response.id),
        () => client.responses.delete(response.id),
      ]
    ) {
      const err = await call().catch((e) => e);
      assert.ok(err instanceof OpenAI.NotFoundError, String(err));
      assert.equal(err.param, "response_id");
    }
  });

  await t.step("a deleted response can no longer be chained", async () => {
    const before = backend.requests.length;
    const err = await client.responses.create({
      model: MODEL,
      input: "Still there?",
      previous_response_id: response.id,
    }).catch((e) => e);
    assert.ok(err instanceof OpenAI.NotFoundError, String(err));
    assert.equal(err.code, "previous_response_not_found");
    assert.equal(backend.requests.length, before, "nothing was sent upstream");
  });

  await t.step("client.responses.delete removes a live response", async () => {
    backend.script({ events: [{ type: "text", text: "Short-lived." }, END] });
    const other = await client.responses.create({ model: MODEL, input: "Bye" });
    await client.responses.delete(other.id);
    const err = await client.responses.retrieve(other.id).catch((e) => e);
    assert.equal(err.status, 404);
  });

  await t.step("DELETE without the key is a 401 and deletes nothing", async () => {
    backend.script({ events: [{ type: "text", text: "Guarded." }, END] });
    const kept = await client.responses.create({ model: MODEL, input: "Guard" });
    const res = await fetch(`${gateway.url}/v1/responses/${kept.id}`, { method: "DELETE" });
    assert.equal(res.status, 401);
    await res.body?.cancel();
    assert.equal((await client.responses.retrieve(kept.id)).id, kept.id);
  });
});

Deno.test("the stored-response routes are labelled by their patterns in the metrics", async () => {
  await using gateway = startTestGateway({ backend: createFakeBackend() });
  for (
    const [method, path] of [
      ["DELETE", "/v1/responses/resp_0a1b"],
      ["GET", "/v1/responses/resp_0a1b/input_items"],
      ["GET", "/v1/responses/resp_ffee/input_items?limit=3"],
    ]
  ) {
    const res = await send(gateway, method!, path!);
    assert.equal(res.status, 404);
    await res.body?.cancel();
  }
  const text = await (await gateway.get("/metrics")).text();
  assert.ok(!text.includes("resp_0a1b") && !text.includes("resp_ffee"), text);
  assert.ok(text.includes('route="/v1/responses/{id}/input_items"'), text);
  assert.ok(text.includes('route="/v1/responses/{id}"'), text);
});

Deno.test("an entry stored before input tracking lists every item before its output", async () => {
  const state = new MemoryState();
  await using gateway = startTestGateway({ backend: createFakeBackend(), deps: { state } });
  const store = new ResponseStore(state, { maxEntries: 5, maxAgeMs: 60_000 });
  const output = [{
    type: "message",
    id: "msg_out",
    role: "assistant",
    content: [{ type: "output_text", text: "Hello" }],
  }];
  await store.save("resp_old", {
    response: { id: "resp_old", object: "response", output },
    items: [{ role: "user", content: "Hi" }, ...output],
  });
  const page = await clientFor(gateway).responses.inputItems.list("resp_old");
  assert.deepEqual(textsOf(page.data as { type: string }[]), ["Hi"]);
  assert.match(page.data[0]!.id!, /^msg_old_0$/);
});

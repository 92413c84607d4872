import assert from "node:assert/strict";
import {
  decodeUtf8Body,
  keepBodyLimits,
  limitRequestBody,
  readBodyCapped,
  readJsonBody,
} from "../../src/core/http_body.ts";
import { GatewayError } from "../../src/errors.ts";

Deno.test("readBodyCapped refuses bodies over the cap", async (t) => {
  const bodyOf = (bytes: number, onCancel?: () => void) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(bytes));
        controller.close();
      },
      cancel: onCancel,
    });

  await t.step("a body within the cap is read whole", async () => {
    const bytes = await readBodyCapped(new Response(bodyOf(10)), 10);
    assert.equal(bytes?.byteLength, 10);
  });

  await t.step("a body that grows past the cap is cut off", async () => {
    const req = new Request("http://127.0.0.1/", { method: "POST", body: bodyOf(11) });
    assert.equal(await readBodyCapped(req, 10), undefined);
  });

  await t.step("a declared length over the cap is refused before reading", async () => {
    let cancelled = false;
    const res = new Response(bodyOf(1, () => cancelled = true), {
      headers: { "content-length": "11" },
    });
    assert.equal(await readBodyCapped(res, 10), undefined);
    assert.ok(cancelled);
  });
});

Deno.test("readJsonBody parses JSON and refuses what is not", async (t) => {
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    new Request("http://127.0.0.1/", { method: "POST", body, headers });

  await t.step("a body nested deeper than 128 levels is an invalid_request", async () => {
    const deep = `${"[".repeat(129)}${"]".repeat(129)}`;
    await assert.rejects(readJsonBody(post(deep), 1000), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, "invalid_request");
      assert.equal(
        err.message,
        "Invalid request: the body nests objects and lists deeper than 128 levels",
      );
      return true;
    });
  });

  await t.step("brackets inside strings do not count as nesting", async () => {
    const text = JSON.stringify({ a: "[".repeat(500), b: '\\"{'.repeat(200), c: [[1]] });
    assert.deepEqual(await readJsonBody(post(text), 100_000), JSON.parse(text));
    const deep = `${"[".repeat(128)}${"]".repeat(128)}`;
    assert.deepEqual(await readJsonBody(post(deep), 1000), JSON.parse(deep));
  });

  await t.step("a JSON body is parsed", async () => {
    assert.deepEqual(await readJsonBody(post('{"model":"m","n":[1]}'), 100), {
      model: "m",
      n: [1],
    });
  });

  const failures: { name: string; req: () => Request; kind: string; message: RegExp }[] = [
    {
      name: "an empty body",
      req: () => post("  \n"),
      kind: "invalid_request",
      message: /^Invalid request: the body is empty, expected JSON$/,
    },
    {
      name: "a body that is not JSON",
      req: () => post("{nope"),
      kind: "invalid_request",
      message: /^Invalid request: the body is not valid JSON: \S/,
    },
    {
      name: "a body with invalid UTF-8",
      req: () => post(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])),
      kind: "invalid_request",
      message: /^Invalid request: the body is not valid UTF-8: invalid byte sequence at byte 6$/,
    },
    {
      name: "a body over the cap",
      req: () => post(JSON.stringify({ text: "x".repeat(20) })),
      kind: "payload_too_large",
      message: /^Request body is too large: the limit is 16 bytes$/,
    },
    {
      name: "a declared length over the cap",
      req: () => post("{}", { "content-length": "17" }),
      kind: "payload_too_large",
      message: /^Request body is too large: the limit is 16 bytes$/,
    },
  ];
  for (const c of failures) {
    await t.step(`${c.name} is refused as ${c.kind}`, async () => {
      await assert.rejects(readJsonBody(c.req(), 16), (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.kind, c.kind);
        assert.match(err.message, c.message);
        return true;
      });
    });
  }
});

Deno.test("decodeUtf8Body names the first invalid sequence and never replaces it", async (t) => {
  const cases: [string, number[], number][] = [
    ["a lone continuation byte", [0x61, 0x80], 1],
    ["an overlong encoding", [0x61, 0x62, 0xc0, 0xaf], 2],
    ["a UTF-16 surrogate", [0xed, 0xa0, 0x80], 0],
    ["a sequence cut off at the end", [0x61, 0xe2, 0x82], 1],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], 0],
  ];
  for (const [name, bytes, offset] of cases) {
    await t.step(name, () => {
      assert.throws(() => decodeUtf8Body(new Uint8Array(bytes)), (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.kind, "invalid_request");
        assert.match(err.message, new RegExp(`at byte ${offset}$`));
        return true;
      });
    });
  }
  await t.step("valid text of every width is decoded", () => {
    const text = "a é € 😀";
    assert.equal(decodeUtf8Body(new TextEncoder().encode(text)), text);
  });
});

Deno.test("a limited request is read in place: the same Request, its limits applied by readJsonBody", async (t) => {
  const streamed = (chunks: string[], onCancel?: (reason: unknown) => void) =>
    new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) return new Promise<void>(() => {}); // stops arriving
        controller.enqueue(new TextEncoder().encode(next));
      },
      cancel: onCancel,
    }, { highWaterMark: 0 });
  const post = (body: ReadableStream<Uint8Array>) =>
    new Request("http://127.0.0.1/", { method: "POST", body });

  await t.step("no Request or stream is put around the body", async () => {
    const req = post(streamed(['{"a":', "1}"]));
    const limited = await limitRequestBody(req, { maxBytes: 100 });
    assert.equal(limited, req);
  });

  await t.step("the request's cap wins over the reader's, and names itself", async () => {
    const cancelled = Promise.withResolvers<unknown>();
    const req = await limitRequestBody(
      post(streamed(['{"a":"', "x".repeat(20), "x".repeat(20)], cancelled.resolve)),
      { maxBytes: 30 },
    );
    await assert.rejects(readJsonBody(req, 1000), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, "payload_too_large");
      assert.equal(err.message, "Request body is too large: the limit is 30 bytes");
      return true;
    });
    await cancelled.promise;
  });

  await t.step("a body that stops arriving times out and is cancelled", async () => {
    const cancelled = Promise.withResolvers<unknown>();
    const req = await limitRequestBody(post(streamed(['{"a":'], cancelled.resolve)), {
      maxBytes: 100,
      timeoutMs: 50,
    });
    await assert.rejects(readJsonBody(req, 1000), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.kind, "request_timeout");
      return true;
    });
    assert.ok((await cancelled.promise) instanceof GatewayError);
  });

  await t.step("a copy made with keepBodyLimits keeps them", async () => {
    const original = await limitRequestBody(post(streamed(["x".repeat(50)])), { maxBytes: 10 });
    const copy = keepBodyLimits(original, new Request(original, { body: original.body }));
    assert.equal(await readBodyCapped(copy, 1000), undefined);
  });
});

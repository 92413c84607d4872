import assert from "node:assert/strict";
import { readBodyCapped, readJsonBody } from "../../src/core/http_body.ts";
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

import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import {
  EventStreamCodec,
  Int64,
  type Message,
  type MessageHeaders,
  type MessageHeaderValue,
} from "@smithy/eventstream-codec";
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  frameDecoder,
  FrameDecoderStream,
  FrameError,
  type FrameErrorReason,
  type HeaderValue,
} from "../../src/kiro/eventstream.ts";
import { GatewayError } from "../../src/errors.ts";
import type { ChatEvent } from "../../src/core/chat.ts";
import { chainTransformers } from "../../src/core/fuse.ts";
import { type PlainSource, sourceStream } from "../../src/core/plain_source.ts";
import { pipeToEvents } from "../../src/core/streams.ts";
import { collect, streamOf, within } from "../helpers.ts";
import { concatBytes, textFrame } from "../frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fromHex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  return Uint8Array.from(
    { length: digits.length / 2 },
    (_, i) => parseInt(digits.slice(i * 2, i * 2 + 2), 16),
  );
}

/** The §4.1 worked example, 124 bytes. */
const WORKED_EXAMPLE = fromHex(`
  0000007c 0000005c 3bddcf78
  0b 3a6576656e742d74797065 07 0016 617373697374616e74526573706f6e73654576656e74
  0d 3a636f6e74656e742d74797065 07 0010 6170706c69636174696f6e2f6a736f6e
  0d 3a6d6573736167652d74797065 07 0005 6576656e74
  7b22636f6e74656e74223a224869227d
  b02babdc
`);

/** Builds a frame around raw header bytes with correct lengths and CRCs. */
function rawFrame(headerBytes: Uint8Array, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const total = 16 + headerBytes.byteLength + payload.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headerBytes.byteLength);
  view.setUint32(8, crc32(out.subarray(0, 8)));
  out.set(headerBytes, 12);
  out.set(payload, 12 + headerBytes.byteLength);
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)));
  return out;
}

/** A bare prelude declaring `total` and `headersLength`, with a correct prelude CRC. */
function prelude(total: number, headersLength: number): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(0, total);
  view.setUint32(4, headersLength);
  view.setUint32(8, crc32(out.subarray(0, 8)));
  return out;
}

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}

const headerValueArb: fc.Arbitrary<HeaderValue> = fc.oneof(
  fc.boolean().map((value) => ({ type: "boolean" as const, value })),
  fc.integer({ min: -128, max: 127 }).map((value) => ({ type: "byte" as const, value })),
  fc.integer({ min: -32768, max: 32767 }).map((value) => ({ type: "short" as const, value })),
  fc.integer().map((value) => ({ type: "integer" as const, value })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    .map((value) => ({ type: "long" as const, value })),
  fc.uint8Array({ maxLength: 40 }).map((value) => ({ type: "binary" as const, value })),
  fc.string({ maxLength: 40, unit: "binary" }).map((value) => ({ type: "string" as const, value })),
  fc.date({ noInvalidDate: true }).map((value) => ({ type: "timestamp" as const, value })),
  fc.uuid().map((value) => ({ type: "uuid" as const, value })),
);

const headerNameArb = fc.string({ minLength: 1, maxLength: 16, unit: "binary" })
  .filter((name) => name !== "__proto__");

const frameArb: fc.Arbitrary<Frame> = fc.record({
  headers: fc.dictionary(headerNameArb, headerValueArb, { maxKeys: 6, noNullPrototype: true }),
  payload: fc.uint8Array({ maxLength: 96 }),
}, { noNullPrototype: true });

function int64Bytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, value);
  return bytes;
}

function toSmithy(frame: Frame): Message {
  const headers: MessageHeaders = {};
  for (const [name, header] of Object.entries(frame.headers)) {
    headers[name] = header.type === "long"
      ? { type: "long", value: new Int64(int64Bytes(header.value)) }
      : header as MessageHeaderValue;
  }
  return { headers, body: frame.payload };
}

function fromSmithy(message: Message): Frame {
  const headers: Record<string, HeaderValue> = {};
  for (const [name, header] of Object.entries(message.headers)) {
    if (header.type === "long") {
      const bytes = header.value.bytes;
      const value = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0);
      headers[name] = { type: "long", value };
    } else {
      headers[name] = header;
    }
  }
  return { headers, payload: message.body };
}

/** Cuts `bytes` at the given offsets (taken modulo the length) into chunks. */
function cutAt(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const cuts = [...new Set(offsets.map((o) => o % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.byteLength]) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

function decodeStream(
  chunks: Uint8Array[],
  options?: { maxFrameBytes?: number },
): Promise<Frame[]> {
  return within(collect(streamOf(chunks).pipeThrough(new FrameDecoderStream(options))), 5000);
}

async function assertFrameError(
  promise: Promise<unknown>,
  reason: FrameErrorReason,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof FrameError, `expected a FrameError, got ${err}`);
    assert.ok(err instanceof GatewayError);
    assert.equal(err.kind, "upstream_protocol");
    assert.equal(err.reason, reason);
    return true;
  });
}

Deno.test("the worked example of §4.1 decodes and re-encodes byte for byte", () => {
  assert.equal(WORKED_EXAMPLE.byteLength, 124);
  const view = new DataView(WORKED_EXAMPLE.buffer);
  assert.equal(view.getUint32(8), 0x3bddcf78);
  assert.equal(view.getUint32(120), 0xb02babdc);
  const frame = decodeFrame(WORKED_EXAMPLE);
  assert.deepEqual(frame.headers, {
    ":event-type": { type: "string", value: "assistantResponseEvent" },
    ":content-type": { type: "string", value: "application/json" },
    ":message-type": { type: "string", value: "event" },
  });
  assert.equal(decoder.decode(frame.payload), `{"content":"Hi"}`);
  assert.deepEqual(encodeFrame(frame), WORKED_EXAMPLE);
  assert.deepEqual(textFrame("Hi"), WORKED_EXAMPLE);
});

Deno.test("CRC32 from node:zlib is the IEEE CRC of the spec", () => {
  assert.equal(crc32(encoder.encode("123456789")), 0xcbf43926);
});

Deno.test("every header type survives an encode and decode round trip", () => {
  const frame: Frame = {
    headers: {
      yes: { type: "boolean", value: true },
      no: { type: "boolean", value: false },
      byte: { type: "byte", value: -7 },
      short: { type: "short", value: -30000 },
      integer: { type: "integer", value: 2_000_000_000 },
      long: { type: "long", value: -(2n ** 63n) },
      binary: { type: "binary", value: Uint8Array.of(0, 255, 1) },
      string: { type: "string", value: "héllo ✓" },
      timestamp: { type: "timestamp", value: new Date("2026-05-18T12:34:56.789Z") },
      uuid: { type: "uuid", value: "0f8fad5b-d9cb-469f-a165-70867728950e" },
    },
    payload: encoder.encode("{}"),
  };
  assert.deepEqual(decodeFrame(encodeFrame(frame)), frame);
});

Deno.test("random frames split at random offsets decode unchanged", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(frameArb, { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      async (frames, offsets) => {
        const bytes = concatBytes(...frames.map(encodeFrame));
        assert.deepEqual(await decodeStream(cutAt(bytes, offsets)), frames);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a stream fed one byte at a time decodes every frame", async () => {
  const frames = [textFrame("a"), WORKED_EXAMPLE, textFrame("")];
  const bytes = concatBytes(...frames);
  const chunks = Array.from(bytes, (byte) => Uint8Array.of(byte));
  const decoded = await decodeStream(chunks);
  assert.deepEqual(decoded.map((f) => decoder.decode(f.payload)), [
    `{"content":"a"}`,
    `{"content":"Hi"}`,
    `{"content":""}`,
  ]);
});

Deno.test("our codec agrees byte for byte with @smithy/eventstream-codec", async (t) => {
  const smithy = new EventStreamCodec(
    (bytes: Uint8Array) => decoder.decode(bytes),
    (text: string) => encoder.encode(text),
  );
  const frames = fc.sample(frameArb, { seed: 20260518, numRuns: 10_000 });

  await t.step("smithy decodes what we encode", () => {
    for (const frame of frames) {
      const ours = encodeFrame(frame);
      assert.deepEqual(fromSmithy(smithy.decode(ours)), frame);
      assert.deepEqual(smithy.encode(toSmithy(frame)), ours);
    }
  });

  await t.step("we decode what smithy encodes", () => {
    for (const frame of frames) {
      assert.deepEqual(decodeFrame(smithy.encode(toSmithy(frame))), frame);
    }
  });
});

Deno.test("corrupt frames fail with upstream_protocol and a reason", async (t) => {
  const unknownType = rawFrame(
    concatBytes(Uint8Array.of(1), encoder.encode("x"), Uint8Array.of(10)),
  );
  // A string header declaring 200 bytes in a 6-byte headers section.
  const overrun = rawFrame(
    concatBytes(Uint8Array.of(1), encoder.encode("x"), Uint8Array.of(7, 0, 200, 65, 66)),
  );
  const cases: { name: string; chunks: Uint8Array[]; reason: FrameErrorReason; max?: number }[] = [
    { name: "a bad prelude CRC", chunks: [withByte(WORKED_EXAMPLE, 9, 0)], reason: "prelude_crc" },
    {
      name: "a bad message CRC",
      chunks: [withByte(WORKED_EXAMPLE, 110, 0x21)],
      reason: "message_crc",
    },
    { name: "a frame over the cap", chunks: [WORKED_EXAMPLE], reason: "oversize", max: 123 },
    {
      name: "a prelude declaring 16 MiB and one byte",
      chunks: [prelude(16 * 1024 * 1024 + 1, 0)],
      reason: "oversize",
    },
    { name: "a total length under 16", chunks: [prelude(15, 0)], reason: "undersize" },
    {
      name: "input cut in the prelude",
      chunks: [WORKED_EXAMPLE.subarray(0, 7)],
      reason: "truncated",
    },
    {
      name: "input cut in the payload",
      chunks: [WORKED_EXAMPLE.subarray(0, 110)],
      reason: "truncated",
    },
    { name: "an unknown header type", chunks: [unknownType], reason: "unknown_header_type" },
    { name: "a header overrunning its section", chunks: [overrun], reason: "header_overrun" },
    {
      name: "a headers length beyond the frame",
      chunks: [prelude(20, 5)],
      reason: "header_overrun",
    },
  ];
  for (const c of cases) {
    await t.step(`${c.name} gives reason "${c.reason}"`, async () => {
      await assertFrameError(decodeStream(c.chunks, { maxFrameBytes: c.max }), c.reason);
    });
  }
});

Deno.test("frames before a corrupt frame are delivered before the error", async () => {
  const reader = streamOf([textFrame("ok"), withByte(WORKED_EXAMPLE, 110, 0)])
    .pipeThrough(new FrameDecoderStream()).getReader();
  const first = await within(reader.read());
  assert.equal(decoder.decode(first.value?.payload), `{"content":"ok"}`);
  await assertFrameError(within(reader.read()), "message_crc");
});

Deno.test("decodeFrame rejects anything but exactly one frame", async (t) => {
  const cases: { name: string; bytes: Uint8Array; reason: FrameErrorReason }[] = [
    {
      name: "fewer bytes than a prelude",
      bytes: WORKED_EXAMPLE.subarray(0, 5),
      reason: "truncated",
    },
    { name: "a cut frame", bytes: WORKED_EXAMPLE.subarray(0, 50), reason: "truncated" },
    {
      name: "bytes after the frame",
      bytes: concatBytes(WORKED_EXAMPLE, Uint8Array.of(0)),
      reason: "trailing_bytes",
    },
  ];
  for (const c of cases) {
    await t.step(`${c.name} gives reason "${c.reason}"`, () => {
      assert.throws(() => decodeFrame(c.bytes), (err: unknown) => {
        assert.ok(err instanceof FrameError);
        assert.equal(err.reason, c.reason);
        return true;
      });
    });
  }
});

Deno.test("any corrupted byte or cut yields upstream_protocol, never a hang", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(frameArb, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 6 }),
      async (frames, position, flip, cut, offsets) => {
        const encoded = frames.map(encodeFrame);
        const bytes = concatBytes(...encoded);
        // A cut exactly between two frames leaves valid input, so cuts avoid frame ends.
        const frameEnds = new Set<number>();
        encoded.reduce(
          (end, frame) => (frameEnds.add(end + frame.byteLength), end + frame.byteLength),
          0,
        );
        const picked = 1 + position % (bytes.byteLength - 1);
        const at = cut && frameEnds.has(picked) ? picked - 1 : picked;
        const broken = cut ? bytes.subarray(0, at) : withByte(bytes, at, bytes[at]! ^ flip);
        await assert.rejects(decodeStream(cutAt(broken, offsets)), (err: unknown) => {
          assert.ok(err instanceof GatewayError);
          assert.equal(err.kind, "upstream_protocol");
          return true;
        });
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a 16 KiB chunk holding many frames yields payloads without copies", async () => {
  const bytes = concatBytes(...Array.from({ length: 100 }, (_, i) => textFrame(`part ${i}`)));
  const frames = await decodeStream([bytes]);
  assert.equal(frames.length, 100);
  for (const frame of frames) assert.equal(frame.payload.buffer, bytes.buffer);
});

Deno.test("header sections of the same length but other bytes are decoded, not taken from memory", async () => {
  const frame = (type: string, n: number) =>
    encodeFrame({
      headers: {
        ":event-type": { type: "string", value: type },
        "n": { type: "integer", value: n },
      },
      payload: encoder.encode(`{"n":${n}}`),
    });
  // Three distinct sections of one length, repeated and alternated, more than the memory holds.
  const frames = [
    frame("aaaa", 1),
    frame("bbbb", 2),
    frame("aaaa", 1),
    frame("cccc", 3),
    frame(
      "aaaa",
      4,
    ),
    frame("bbbb", 2),
    frame("bbbb", 5),
  ];
  const decoded = await within(
    collect(streamOf([concatBytes(...frames)]).pipeThrough(new FrameDecoderStream())),
  );
  assert.deepEqual(
    decoded.map((f) => [f.headers[":event-type"]?.value, f.headers["n"]?.value]),
    [["aaaa", 1], ["bbbb", 2], ["aaaa", 1], ["cccc", 3], ["aaaa", 4], ["bbbb", 2], ["bbbb", 5]],
  );
});

Deno.test("frames read from one reused buffer (a lent chunk per read) decode unchanged", async () => {
  const frames = Array.from({ length: 40 }, (_, i) => textFrame(`delta ${i} `.repeat(i % 7 + 1)));
  const all = concatBytes(...frames);
  const sizes = [5, 131, 64, 3, 250, 17];
  // One buffer for every read, scrambled before each next read, as a BYOB reader reuses it.
  const buffer = new Uint8Array(256);
  let at = 0;
  let read = 0;
  const source: PlainSource<Uint8Array> = {
    next() {
      buffer.fill(0xee);
      if (at >= all.byteLength) return Promise.resolve(undefined);
      const size = Math.min(sizes[read++ % sizes.length]!, all.byteLength - at);
      buffer.set(all.subarray(at, at + size));
      at += size;
      return Promise.resolve(buffer.subarray(0, size));
    },
    keep: (chunk) => chunk.slice(),
    cancel: () => Promise.resolve(),
  };
  const texts: string[] = [];
  const steps = chainTransformers(frameDecoder(), {
    transform(frame: Frame) {
      texts.push((JSON.parse(decoder.decode(frame.payload)) as { content: string }).content);
    },
  });
  await collect(pipeToEvents(sourceStream(source), steps as Transformer<Uint8Array, ChatEvent>));
  assert.deepEqual(texts, frames.map((_, i) => `delta ${i} `.repeat(i % 7 + 1)));
});

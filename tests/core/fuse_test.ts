import assert from "node:assert/strict";
import { chainTransformers } from "../../src/core/fuse.ts";
import { collect, streamOf } from "../helpers.ts";

const split: Transformer<string, string> = {
  transform(chunk, controller) {
    for (const char of chunk) controller.enqueue(char);
  },
};

function counter(): Transformer<string, string> {
  let count = 0;
  return {
    transform(chunk, controller) {
      count++;
      controller.enqueue(chunk.toUpperCase());
    },
    flush(controller) {
      controller.enqueue(`#${count}`);
    },
  };
}

Deno.test("chained transformers give what the two stages give one after the other", async () => {
  const fused = await collect(
    streamOf(["ab", "c"]).pipeThrough(new TransformStream(chainTransformers(split, counter()))),
  );
  const staged = await collect(
    streamOf(["ab", "c"]).pipeThrough(new TransformStream(split)).pipeThrough(
      new TransformStream(counter()),
    ),
  );
  assert.deepEqual(fused, ["A", "B", "C", "#3"]);
  assert.deepEqual(fused, staged);
});

Deno.test("a flush of the first step still passes through the second", async () => {
  const tail: Transformer<string, string> = {
    transform() {},
    flush(controller) {
      controller.enqueue("tail");
    },
  };
  const out = await collect(
    streamOf(["x"]).pipeThrough(new TransformStream(chainTransformers(tail, counter()))),
  );
  assert.deepEqual(out, ["TAIL", "#1"]);
});

Deno.test("an identity step and a throwing step behave as in separate stages", async () => {
  const identity: Transformer<string, string> = {};
  assert.deepEqual(
    await collect(
      streamOf(["q"]).pipeThrough(new TransformStream(chainTransformers(identity, counter()))),
    ),
    ["Q", "#1"],
  );
  const failing: Transformer<string, string> = {
    transform() {
      throw new Error("bad input");
    },
  };
  await assert.rejects(
    collect(streamOf(["q"]).pipeThrough(new TransformStream(chainTransformers(split, failing)))),
    /bad input/,
  );
});

Deno.test("cancelling the fused stage reaches both steps", async () => {
  const cancelled: string[] = [];
  const step = (name: string): Transformer<string, string> => ({
    cancel() {
      cancelled.push(name);
    },
  });
  const stage = new TransformStream(chainTransformers(step("first"), step("second")));
  await stage.readable.cancel();
  assert.deepEqual(cancelled, ["first", "second"]);
});

import assert from "node:assert/strict";
import { exposedFullGc, type HeapFigures, HeapTrimmer } from "../../src/ops/heap_trim.ts";

const MiB = 1024 * 1024;

/** A heap whose figures the test sets, and a collect that shrinks it to `afterCollect`. */
function fakeHeap(start: HeapFigures, afterCollect: HeapFigures) {
  let figures = start;
  let collections = 0;
  return {
    set(next: HeapFigures) {
      figures = next;
    },
    get collections() {
      return collections;
    },
    options: {
      memory: () => figures,
      collect: () => {
        collections++;
        figures = afterCollect;
      },
      intervalMs: 60_000,
    },
  };
}

Deno.test("the heap trimmer collects once the heap has grown and stopped changing", () => {
  const heap = fakeHeap({ heapTotal: 18 * MiB, heapUsed: 13 * MiB }, {
    heapTotal: 13 * MiB,
    heapUsed: 9 * MiB,
  });
  const told: HeapFigures[][] = [];
  const trimmer = new HeapTrimmer({
    ...heap.options,
    onCollect: (before, after) => told.push([before, after]),
  });
  try {
    heap.set({ heapTotal: 34 * MiB, heapUsed: 24 * MiB });
    assert.equal(trimmer.check(), false, "the heap in use changed since the last look");
    assert.equal(trimmer.check(), true, "grown by 16 MiB and idle");
    assert.equal(heap.collections, 1);
    assert.deepEqual(told, [[{ heapTotal: 34 * MiB, heapUsed: 24 * MiB }, {
      heapTotal: 13 * MiB,
      heapUsed: 9 * MiB,
    }]]);
    assert.equal(trimmer.check(), false, "the collected heap is the new baseline");
    assert.equal(heap.collections, 1);
  } finally {
    trimmer.stop();
  }
});

Deno.test("the heap trimmer leaves a busy heap alone however large it is", () => {
  const heap = fakeHeap({ heapTotal: 18 * MiB, heapUsed: 13 * MiB }, {
    heapTotal: 13 * MiB,
    heapUsed: 9 * MiB,
  });
  const trimmer = new HeapTrimmer(heap.options);
  try {
    for (const used of [40, 60, 45, 80, 52]) {
      heap.set({ heapTotal: 140 * MiB, heapUsed: used * MiB });
      assert.equal(trimmer.check(), false);
    }
    assert.equal(heap.collections, 0);
  } finally {
    trimmer.stop();
  }
});

Deno.test("the heap trimmer waits while a reply streams, however still the heap is", () => {
  const heap = fakeHeap({ heapTotal: 18 * MiB, heapUsed: 13 * MiB }, {
    heapTotal: 13 * MiB,
    heapUsed: 9 * MiB,
  });
  let streaming = 1;
  const trimmer = new HeapTrimmer({ ...heap.options, busy: () => streaming > 0 });
  try {
    heap.set({ heapTotal: 34 * MiB, heapUsed: 24 * MiB });
    trimmer.check();
    assert.equal(trimmer.check(), false, "a slow stream is open");
    assert.equal(heap.collections, 0);
    streaming = 0;
    assert.equal(trimmer.check(), true, "the stream ended");
    assert.equal(heap.collections, 1);
  } finally {
    trimmer.stop();
  }
});

Deno.test("the heap trimmer leaves an idle heap alone that grew less than the minimum", () => {
  const heap = fakeHeap({ heapTotal: 18 * MiB, heapUsed: 13 * MiB }, {
    heapTotal: 13 * MiB,
    heapUsed: 9 * MiB,
  });
  const trimmer = new HeapTrimmer({ ...heap.options, minGrowthBytes: 8 * MiB });
  try {
    heap.set({ heapTotal: 25 * MiB, heapUsed: 15 * MiB });
    trimmer.check();
    assert.equal(trimmer.check(), false, "7 MiB of growth");
    heap.set({ heapTotal: 27 * MiB, heapUsed: 15 * MiB });
    assert.equal(trimmer.check(), true, "9 MiB of growth");
  } finally {
    trimmer.stop();
  }
});

Deno.test("the heap trimmer collects again only after the heap grows again", () => {
  const heap = fakeHeap({ heapTotal: 18 * MiB, heapUsed: 13 * MiB }, {
    heapTotal: 13 * MiB,
    heapUsed: 9 * MiB,
  });
  const trimmer = new HeapTrimmer(heap.options);
  try {
    heap.set({ heapTotal: 34 * MiB, heapUsed: 24 * MiB });
    trimmer.check();
    assert.equal(trimmer.check(), true);
    // A small request afterwards: the heap grows back a little, then idles.
    heap.set({ heapTotal: 17 * MiB, heapUsed: 11 * MiB });
    trimmer.check();
    assert.equal(trimmer.check(), false);
    // The next burst: 20 MiB over the collected heap.
    heap.set({ heapTotal: 33 * MiB, heapUsed: 25 * MiB });
    trimmer.check();
    assert.equal(trimmer.check(), true);
    assert.equal(heap.collections, 2);
  } finally {
    trimmer.stop();
  }
});

Deno.test("the full collection is V8's last-resort one, and absent without --expose-gc", () => {
  const global = globalThis as { gc?: (options: unknown) => void };
  // The test runner does not pass --v8-flags=--expose-gc; the gateway's tasks do.
  assert.equal(typeof global.gc, "undefined");
  assert.equal(exposedFullGc(), undefined);
  const calls: unknown[] = [];
  global.gc = (options) => calls.push(options);
  try {
    exposedFullGc()!();
  } finally {
    delete global.gc;
  }
  assert.deepEqual(calls, [{ type: "major", execution: "sync", flavor: "last-resort" }]);
});

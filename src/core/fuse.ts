/**
 * Runs two synchronous transformers as one pipeline stage. Every TransformStream hop costs
 * promises, microtasks and a few kilobytes per stream, so the hot path chains the steps'
 * transformers into one stage while each step keeps its own module and its own stream class.
 */

/**
 * Chains `first` into `second`: what `first` enqueues goes straight into `second`. Both must
 * be synchronous (their transform and flush return nothing); `start`, `flush` and `cancel`
 * run in pipeline order.
 */
export function chainTransformers<A, B, C>(
  first: Transformer<A, B>,
  second: Transformer<B, C>,
): Transformer<A, C> {
  let downstream: TransformStreamDefaultController<C> | undefined;
  const forward = (chunk: B) => {
    if (second.transform) void second.transform(chunk, downstream!);
    else downstream!.enqueue(chunk as unknown as C);
  };
  const relay: TransformStreamDefaultController<B> = {
    get desiredSize() {
      return downstream?.desiredSize ?? null;
    },
    enqueue: (chunk?: B) => forward(chunk as B),
    error: (reason?: unknown) => downstream!.error(reason),
    terminate: () => downstream!.terminate(),
  };
  return {
    start(controller) {
      downstream = controller;
      void first.start?.(relay);
      void second.start?.(controller);
    },
    transform(chunk, controller) {
      downstream = controller;
      if (first.transform) void first.transform(chunk, relay);
      else forward(chunk as unknown as B);
    },
    flush(controller) {
      downstream = controller;
      void first.flush?.(relay);
      void second.flush?.(controller);
    },
    cancel(reason) {
      void first.cancel?.(reason);
      void second.cancel?.(reason);
    },
  };
}

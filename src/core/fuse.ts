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
  return new ChainedTransformer(first, second);
}

/**
 * The chain's state in one fixed-shape object that is also the controller `first` writes to:
 * a class keeps `desiredSize` on its prototype, so V8 keeps instances in fast mode (an object
 * literal with a getter became a dictionary of ~440 bytes per stream), and no closure is made
 * per stream.
 */
class ChainedTransformer<A, B, C>
  implements Transformer<A, C>, TransformStreamDefaultController<B> {
  #first: Transformer<A, B>;
  #second: Transformer<B, C>;
  #downstream: TransformStreamDefaultController<C> | undefined = undefined;

  constructor(first: Transformer<A, B>, second: Transformer<B, C>) {
    this.#first = first;
    this.#second = second;
  }

  get desiredSize(): number | null {
    return this.#downstream?.desiredSize ?? null;
  }

  enqueue(chunk?: B): void {
    const second = this.#second;
    if (second.transform) void second.transform(chunk as B, this.#downstream!);
    else this.#downstream!.enqueue(chunk as unknown as C);
  }

  error(reason?: unknown): void {
    this.#downstream!.error(reason);
  }

  terminate(): void {
    this.#downstream!.terminate();
  }

  start(controller: TransformStreamDefaultController<C>): void {
    this.#downstream = controller;
    void this.#first.start?.(this);
    void this.#second.start?.(controller);
  }

  transform(chunk: A, controller: TransformStreamDefaultController<C>): void {
    this.#downstream = controller;
    const first = this.#first;
    if (first.transform) void first.transform(chunk, this);
    else this.enqueue(chunk as unknown as B);
  }

  flush(controller: TransformStreamDefaultController<C>): void {
    this.#downstream = controller;
    void this.#first.flush?.(this);
    void this.#second.flush?.(controller);
  }

  cancel(reason: unknown): void {
    void this.#first.cancel?.(reason);
    void this.#second.cancel?.(reason);
  }
}

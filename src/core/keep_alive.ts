/**
 * The keep-alive of a streamed reply: a beat (an Anthropic `ping`, a Responses
 * `response.in_progress`) at each interval in which nothing else was sent, so a client's idle
 * limit never fires during a long silence of the model.
 */
export class KeepAlive {
  #timer: ReturnType<typeof setInterval> | undefined;
  #quiet = true;

  /** Calls `beat` every `intervalMs` that passed without touch(); a `beat` that throws stops it. */
  constructor(intervalMs: number, beat: () => void) {
    this.#timer = setInterval(() => {
      try {
        if (this.#quiet) beat();
      } catch {
        // The output is gone (cancelled or errored): nothing more to keep alive.
        this.stop();
      }
      this.#quiet = true;
    }, intervalMs);
  }

  /** Marks the current interval as busy: something was sent, no beat is needed. */
  touch(): void {
    this.#quiet = false;
  }

  /** Stops the beats; calling it again does nothing. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

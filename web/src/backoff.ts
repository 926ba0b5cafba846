// Reconnect delays: exponential backoff with jitter, capped.
//
// "Equal jitter": half of each delay is fixed and half random. The fixed
// half keeps a client from hammering a server that is down; the random half
// spreads a crowd of clients that lost the same server at the same moment,
// so they do not all come back in one burst when it restarts.

export interface BackoffOptions {
  /** First delay, in ms. */
  initialMs: number;
  /** Largest delay, in ms. */
  maxMs: number;
  /** Growth per failed attempt. */
  factor: number;
  /** A number in [0, 1). */
  random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 300,
  maxMs: 10_000,
  factor: 2,
  random: Math.random,
};

export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The delay before the next attempt; each call counts one failure. */
  next(): number {
    const { initialMs, maxMs, factor, random } = this.opts;
    const ceiling = Math.min(maxMs, initialMs * factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** A connection succeeded: start again from the first delay. */
  reset(): void {
    this.attempt = 0;
  }
}

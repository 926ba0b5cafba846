import { describe, expect, it } from "vitest";
import { Backoff } from "../src/backoff";

describe("Backoff", () => {
  it("doubles up to the cap, with half of each delay random", () => {
    const lo = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => lo.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const hi = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5].map(() => hi.next())).toEqual([100, 200, 400, 800, 1000]);
  });

  it("starts over after a reset", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => 0 });
    b.next();
    b.next();
    expect(b.attempts).toBe(2);
    b.reset();
    expect(b.next()).toBe(50);
  });

  it("never waits more than about ten seconds by default", () => {
    const b = new Backoff();
    let max = 0;
    for (let i = 0; i < 40; i++) max = Math.max(max, b.next());
    expect(max).toBeLessThanOrEqual(10_000);
    expect(max).toBeGreaterThanOrEqual(5_000);
  });
});

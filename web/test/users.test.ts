import { describe, expect, it } from "vitest";
import { MIN_HUE_DISTANCE, Roster, cleanName, hueCollides, hueDistance, pickHue, randomName } from "../src/users";

describe("hues", () => {
  it("measure distance around the wheel", () => {
    expect(hueDistance(10, 350)).toBe(20);
    expect(hueDistance(0, 180)).toBe(180);
    expect(hueDistance(90, 90)).toBe(0);
    expect(hueCollides(100, [125])).toBe(true);
    expect(hueCollides(100, [131, 60])).toBe(false);
  });

  it("pick one apart from the taken ones", () => {
    for (let i = 0; i < 50; i++) {
      const taken = [0, 90, 200];
      const h = pickHue(taken);
      expect(hueCollides(h, taken)).toBe(false);
    }
  });

  it("pick the emptiest spot on a crowded wheel", () => {
    const taken = Array.from({ length: 12 }, (_, i) => i * 30).filter((h) => h !== 150);
    const h = pickHue(taken, () => 0);
    expect(hueDistance(h, 150)).toBeLessThan(MIN_HUE_DISTANCE);
    const nearest = Math.min(...taken.map((t) => hueDistance(h, t)));
    expect(nearest).toBeGreaterThanOrEqual(25);
  });
});

describe("names", () => {
  it("default to two friendly words", () => {
    expect(randomName()).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
  });

  it("are trimmed and bounded", () => {
    expect(cleanName("  Ann   Lee ")).toBe("Ann Lee");
    expect([...cleanName("😀".repeat(100))]).toHaveLength(64);
    expect(cleanName("   ")).toBe("");
  });
});

describe("Roster", () => {
  it("tracks others and notifies", () => {
    const r = new Roster();
    let calls = 0;
    r.onChange(() => calls++);
    r.me = 1;
    r.set(1, { name: "me", hue: 0 });
    r.set(2, { name: "Bo", hue: 100 });
    expect(r.others()).toEqual([[2, { name: "Bo", hue: 100 }]]);
    r.set(2, null);
    expect(r.others()).toEqual([]);
    expect(calls).toBe(3);
  });
});

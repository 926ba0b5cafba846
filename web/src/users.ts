// The people in a document: who is present, their names and colours, and
// how this tab picks a default name and a colour that stands apart.

import type { UserInfo } from "./protocol";

/** Distance between two hues on the colour wheel, 0–180. */
export function hueDistance(a: number, b: number): number {
  const d = Math.abs((((a - b) % 360) + 360) % 360);
  return Math.min(d, 360 - d);
}

/** Hues closer than this look alike next to each other in the editor. */
export const MIN_HUE_DISTANCE = 30;

/** True when `hue` is too close to one of `others`. */
export function hueCollides(hue: number, others: Iterable<number>): boolean {
  for (const o of others) if (hueDistance(hue, o) < MIN_HUE_DISTANCE) return true;
  return false;
}

/**
 * A hue far from all of `taken`: a random one among those at least
 * MIN_HUE_DISTANCE from every taken hue (randomness keeps two people who
 * join at once from landing on the same hue), or, when the wheel is that
 * crowded, the one farthest from its nearest neighbour.
 */
export function pickHue(taken: readonly number[], random: () => number = Math.random): number {
  const candidates: number[] = [];
  let best = 0;
  let bestDistance = -1;
  for (let h = 0; h < 360; h += 5) {
    let nearest = 180;
    for (const t of taken) nearest = Math.min(nearest, hueDistance(h, t));
    if (nearest >= MIN_HUE_DISTANCE) candidates.push(h);
    if (nearest > bestDistance) {
      bestDistance = nearest;
      best = h;
    }
  }
  if (candidates.length === 0) return best;
  return candidates[Math.floor(random() * candidates.length)] ?? best;
}

/** The CSS colour for a user's hue; lighter on dark backgrounds. */
export function hueColor(hue: number, dark: boolean, alpha = 1): string {
  const l = dark ? 68 : 42;
  return alpha === 1 ? `hsl(${hue} 75% ${l}%)` : `hsl(${hue} 75% ${l}% / ${alpha})`;
}

const ADJECTIVES = [
  "Amber", "Brave", "Calm", "Clever", "Cosmic", "Curious", "Daring", "Eager",
  "Gentle", "Happy", "Jolly", "Kind", "Lively", "Lucky", "Merry", "Mighty",
  "Nimble", "Plucky", "Quick", "Quiet", "Sunny", "Swift", "Witty", "Zesty",
];
const ANIMALS = [
  "Badger", "Beaver", "Crane", "Dolphin", "Falcon", "Ferret", "Fox", "Gecko",
  "Heron", "Koala", "Lemur", "Lynx", "Marmot", "Narwhal", "Otter", "Panda",
  "Puffin", "Quokka", "Raven", "Seal", "Tapir", "Walrus", "Wombat", "Yak",
];

/** A friendly random name like "Curious Otter". */
export function randomName(random: () => number = Math.random): string {
  const a = ADJECTIVES[Math.floor(random() * ADJECTIVES.length)] ?? "Anonymous";
  const b = ANIMALS[Math.floor(random() * ANIMALS.length)] ?? "Otter";
  return `${a} ${b}`;
}

/** Trims a name to what the server accepts (1–64 characters). */
export function cleanName(name: string, max = 64): string {
  const chars = [...name.trim().replace(/\s+/g, " ")];
  return chars.slice(0, max).join("");
}

/** Other users present in the document, by user id. */
export class Roster {
  private readonly users = new Map<number, UserInfo>();
  private readonly listeners = new Set<() => void>();

  /** Our own user id, once the server said it. */
  me: number | null = null;

  set(id: number, info: UserInfo | null): void {
    if (info) this.users.set(id, info);
    else this.users.delete(id);
    this.changed();
  }

  get(id: number): UserInfo | undefined {
    return this.users.get(id);
  }

  /** Others, excluding ourselves (the server never lists us anyway). */
  others(): [number, UserInfo][] {
    return [...this.users].filter(([id]) => id !== this.me);
  }

  clear(): void {
    this.users.clear();
    this.changed();
  }

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private changed(): void {
    for (const f of this.listeners) f();
  }
}

// What the browser remembers: preferences in localStorage (shared by every
// tab), the client identity per tab and document in sessionStorage.
//
// Storage can be missing or throw (private modes, disabled cookies, quota):
// every access is guarded and falls back to defaults, since none of this
// is worth failing to edit over.

import { CLIENT_KEY_LENGTH, randomToken } from "./link";
import { pickHue, randomName } from "./users";

export type ThemeChoice = "system" | "light" | "dark";

export interface Preferences {
  name: string;
  hue: number;
  /** The user picked the hue: never change it for them. */
  hueChosen: boolean;
  theme: ThemeChoice;
  wrap: boolean;
  fontSize: number;
  vim: boolean;
}

const PREFS_KEY = "tandem:prefs";
export const FONT_SIZES = [12, 13, 14, 15, 16, 18, 20, 24] as const;

function read(storage: () => Storage, key: string): string | null {
  try {
    return storage().getItem(key);
  } catch {
    return null;
  }
}

function write(storage: () => Storage, key: string, value: string): void {
  try {
    storage().setItem(key, value);
  } catch {
    // Not remembered; the value still applies to this page.
  }
}

const local = () => window.localStorage;
const session = () => window.sessionStorage;

export function defaultPreferences(): Preferences {
  return {
    name: randomName(),
    hue: pickHue([]),
    hueChosen: false,
    theme: "system",
    wrap: true,
    fontSize: 14,
    vim: false,
  };
}

/** Stored preferences, each field checked; new defaults are stored at once
 * so the random name stays the same across reloads. */
export function loadPreferences(): Preferences {
  const d = defaultPreferences();
  let stored: Partial<Record<keyof Preferences, unknown>> = {};
  try {
    stored = JSON.parse(read(local, PREFS_KEY) ?? "{}") ?? {};
  } catch {
    stored = {};
  }
  const p: Preferences = {
    name: typeof stored.name === "string" && stored.name.trim() ? stored.name : d.name,
    hue:
      typeof stored.hue === "number" && Number.isInteger(stored.hue) && stored.hue >= 0 && stored.hue < 360
        ? stored.hue
        : d.hue,
    hueChosen: stored.hueChosen === true,
    theme: stored.theme === "light" || stored.theme === "dark" ? stored.theme : "system",
    wrap: typeof stored.wrap === "boolean" ? stored.wrap : d.wrap,
    fontSize:
      typeof stored.fontSize === "number" && (FONT_SIZES as readonly number[]).includes(stored.fontSize)
        ? stored.fontSize
        : d.fontSize,
    vim: stored.vim === true,
  };
  savePreferences(p);
  return p;
}

export function savePreferences(p: Preferences): void {
  write(local, PREFS_KEY, JSON.stringify(p));
}

/**
 * This tab's identity for document `id`: a random key kept in
 * sessionStorage, so a reload of the tab continues as the same client (its
 * edits numbered on, its own history entries recognised) while another tab
 * is another client.
 */
export function clientKey(docId: string): { key: string; restored: boolean } {
  const storageKey = "tandem:client:" + docId;
  const stored = read(session, storageKey);
  if (stored && /^[A-Za-z0-9_-]{16,64}$/.test(stored)) return { key: stored, restored: true };
  return { key: newClientKey(docId), restored: false };
}

/** Replaces this tab's identity for `docId` (a duplicated tab, which
 * inherited the original's sessionStorage, must not share its identity). */
export function newClientKey(docId: string): string {
  const key = randomToken(CLIENT_KEY_LENGTH);
  write(session, "tandem:client:" + docId, key);
  return key;
}

import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { Doc, initSync, apply } from "tandem-ot-wasm";
import { diffChanges, prefixSuffixChange, wellFormed, type Change } from "../src/rebase";

/** Applies `[from, to, insert]` changes (UTF-16, old-text coordinates). */
function applyChanges(text: string, changes: Change[]): string {
  let out = "";
  let prev = 0;
  for (const [a, b, ins] of changes) {
    out += text.slice(prev, a) + ins;
    prev = b;
  }
  return out + text.slice(prev);
}

const CASES: [string, string][] = [
  ["", ""],
  ["", "new text"],
  ["old text", ""],
  ["hello world", "hello brave new world"],
  ["line 1\nline 2\nline 3\n", "line 1\nline two\nline 3\nline 4\n"],
  ["😀😀😀", "😀😃😀"],
  ["a😀b", "a😃b"],
  ["日本語のテキスト", "日本語の新しいテキスト"],
  ["مرحبا بالعالم", "مرحبا يا عالم"],
  ["\ud83d\ude00x", "\ud83d\ude01x"],
  ["same", "same"],
];

describe("diffChanges", () => {
  it("turns one text into the other, in sorted non-overlapping changes", () => {
    for (const [from, to] of CASES) {
      const changes = diffChanges(from, to);
      expect(applyChanges(from, changes), `${from} → ${to}`).toBe(to);
      let end = 0;
      for (const [a, b] of changes) {
        expect(a).toBeGreaterThanOrEqual(end);
        expect(b).toBeGreaterThanOrEqual(a);
        end = b;
      }
      if (from === to) expect(changes).toEqual([]);
    }
  });

  it("never cuts a surrogate pair", () => {
    for (const [from, to] of CASES) {
      for (const [a, b] of diffChanges(from, to)) {
        for (const i of [a, b]) {
          const hi = from.charCodeAt(i - 1);
          expect(hi >= 0xd800 && hi <= 0xdbff && i < from.length, `${from} at ${i}`).toBe(false);
        }
      }
    }
  });

  it("has a coarse fallback that is also exact", () => {
    for (const [from, to] of CASES) expect(applyChanges(from, prefixSuffixChange(from, to))).toBe(to);
    // Common prefix ends inside a pair: the change must start before it.
    expect(prefixSuffixChange("\ud83d\ude00", "\ud83d\ude01")).toEqual([[0, 2, "\ud83d\ude01"]]);
  });
});

describe("wellFormed", () => {
  it("replaces lone surrogates only", () => {
    expect(wellFormed("a\ud800b")).toBe("a\ufffdb");
    expect(wellFormed("a\udc00")).toBe("a\ufffd");
    expect(wellFormed("😀")).toBe("😀");
  });
});

describe("rebasing onto a snapshot with the real Doc", () => {
  beforeAll(() => {
    const wasm = readFileSync(new URL("../../ot-wasm/pkg/tandem_ot_wasm_bg.wasm", import.meta.url));
    initSync({ module: wasm });
  });

  it("keeps the editor's text and submits the difference as one edit", () => {
    // The tab had edits the server never applied...
    const old = new Doc("hello world", 5);
    old.identified(1);
    old.resume();
    const first = old.localChanges([[5, 5, " dear"]]);
    expect(first?.seq).toBe(1);
    old.localChanges([[0, 0, "😀 "]]);
    old.disconnected();
    const editorText = old.text();
    expect(editorText).toBe("😀 hello dear world");

    // ...and the server, after losing history, sends another text.
    const snapshot = "hello wide world";
    const doc = Doc.withNextSeq(snapshot, 9, Math.max(old.nextSeq, 0 + 1));
    doc.identified(1);
    const changes = diffChanges(snapshot, editorText);
    doc.localChanges(changes);
    expect(doc.text()).toBe(editorText);
    const sub = doc.resume();
    expect(sub).toBeDefined();
    expect(sub!.revision).toBe(9);
    expect(sub!.seq).toBeGreaterThan(first!.seq); // never reused
    // The submission turns the snapshot into exactly the editor's text.
    expect(apply(snapshot, sub!.operation)).toBe(editorText);
  });

  it("submits nothing when the snapshot already has the text", () => {
    const doc = Doc.withNextSeq("same 😀", 3, 7);
    doc.identified(2);
    const changes = diffChanges("same 😀", "same 😀");
    expect(changes).toEqual([]);
    expect(doc.resume()).toBeUndefined();
  });
});

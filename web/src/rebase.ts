// Rebasing the editor's text onto a server snapshot, when the Doc cannot.
//
// Normally a snapshot that replaces the history (this tab was too far
// behind, or the server lost edits in a crash) is handled by the Doc
// itself (Doc.rebase, session.ts): it knows the server text its pending
// edits are based on, so it transforms them past the change "known server
// text → snapshot" and nothing is applied twice or undone.
//
// This file is the fallback for when there is no trustworthy Doc: after a
// divergence (a message that did not apply), or when the user resumes
// from a refused edit. The tab keeps its own text: it starts a fresh Doc
// from the snapshot and submits the difference "snapshot → editor text" as
// one local edit. That never loses local text, but it can resurrect text
// that others deleted meanwhile (the diff sees it only as "text the
// editor has and the snapshot lacks"). Losing a user's words silently is
// worse than showing a deletion that has to be redone.

import diff from "fast-diff";

/** `[fromUtf16, toUtf16, insert]` in the old text, as Doc.localChanges takes. */
export type Change = [number, number, string];

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** True if UTF-16 offset `i` of `s` falls between the halves of a pair. */
function splitsPair(s: string, i: number): boolean {
  return i > 0 && i < s.length && isHigh(s.charCodeAt(i - 1)) && isLow(s.charCodeAt(i));
}

/** One change covering everything between the common prefix and suffix,
 * with both ends moved off surrogate-pair middles. The fallback when the
 * diff library's output cannot be used as is. */
export function prefixSuffixChange(from: string, to: string): Change[] {
  if (from === to) return [];
  let start = 0;
  const max = Math.min(from.length, to.length);
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  if (splitsPair(from, start) || splitsPair(to, start)) start--;
  let endFrom = from.length;
  let endTo = to.length;
  while (endFrom > start && endTo > start && from.charCodeAt(endFrom - 1) === to.charCodeAt(endTo - 1)) {
    endFrom--;
    endTo--;
  }
  if (splitsPair(from, endFrom) || splitsPair(to, endTo)) {
    endFrom++;
    endTo++;
  }
  return [[start, endFrom, to.slice(start, endTo)]];
}

/**
 * The changes that turn `from` into `to`, in UTF-16 offsets of `from`,
 * sorted and non-overlapping; a deletion followed by an insertion at the
 * same place is one replacement. Empty when the texts are equal.
 */
export function diffChanges(from: string, to: string): Change[] {
  if (from === to) return [];
  const changes: Change[] = [];
  let pos = 0;
  for (const [kind, text] of diff(from, to)) {
    if (kind === diff.EQUAL) {
      pos += text.length;
    } else if (kind === diff.DELETE) {
      changes.push([pos, pos + text.length, ""]);
      pos += text.length;
    } else {
      const last = changes[changes.length - 1];
      if (last && last[1] === pos) last[2] += text;
      else changes.push([pos, pos, text]);
    }
  }
  // fast-diff keeps surrogate pairs whole; should a change ever cut one,
  // Doc.localChanges would refuse it, so take the coarse change instead.
  // The result is also checked by rebuilding `to` (linear time), so a bug
  // here can never submit wrong text.
  const pieces: string[] = [];
  let prev = 0;
  for (const [a, b, ins] of changes) {
    if (splitsPair(from, a) || splitsPair(from, b)) return prefixSuffixChange(from, to);
    pieces.push(from.slice(prev, a), ins);
    prev = b;
  }
  pieces.push(from.slice(prev));
  return pieces.join("") === to ? changes : prefixSuffixChange(from, to);
}

/** Replaces lone surrogates with U+FFFD: the OT core only takes
 * well-formed text, and an editor could in theory hold a lone half. */
export function wellFormed(s: string): string {
  const f = (s as { toWellFormed?: () => string }).toWellFormed;
  if (f) return f.call(s);
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

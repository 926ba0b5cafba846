// Other people's cursors and selections, drawn in their colours with their
// names near the caret.
//
// Positions live in a CodeMirror StateField in the editor's own (UTF-16)
// coordinates and are mapped through every transaction — local typing and
// remote edits alike — so a cursor stays on its character until its owner
// reports a new position. The server's positions (code points, server
// text) are converted by the session with Doc.remoteIndexToLocal before
// they get here.

import { type EditorState, type Range, StateEffect, StateField } from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView, WidgetType } from "@codemirror/view";

export interface RemoteCursor {
  name: string;
  hue: number;
  /** Caret positions (UTF-16, local text). */
  heads: number[];
  /** Selected ranges (UTF-16, local text), non-empty. */
  ranges: [number, number][];
}

/** Sets one user's positions (replacing earlier ones). */
export const setCursor = StateEffect.define<{ id: number; heads: number[]; ranges: [number, number][] }>();
/** Sets one user's name and colour (a cursor without them is not drawn). */
export const setCursorUser = StateEffect.define<{ id: number; name: string; hue: number }>();
/** Removes a user's cursor (they left). */
export const removeCursor = StateEffect.define<number>();
/** Removes every cursor (the connection dropped; the server resends them). */
export const clearCursors = StateEffect.define<null>();

type Cursors = ReadonlyMap<number, RemoteCursor>;

function clamp(pos: number, len: number): number {
  return Math.max(0, Math.min(pos, len));
}

export const remoteCursors = StateField.define<Cursors>({
  create: () => new Map(),
  update(value, tr) {
    let next: Map<number, RemoteCursor> | null = null;
    const edit = () => (next ??= new Map(value));
    if (tr.docChanged) {
      const m = edit();
      for (const [id, c] of m) {
        m.set(id, {
          ...c,
          // A caret moves past text inserted at it (its owner's typing
          // arrives before their new cursor); a selection does not grow.
          heads: c.heads.map((p) => tr.changes.mapPos(p, 1)),
          ranges: c.ranges
            .map(([a, b]): [number, number] => {
              const from = tr.changes.mapPos(a, 1);
              return [from, Math.max(from, tr.changes.mapPos(b, -1))];
            })
            .filter(([a, b]) => a < b),
        });
      }
    }
    const len = tr.newDoc.length;
    for (const e of tr.effects) {
      if (e.is(setCursor)) {
        const m = edit();
        const old = m.get(e.value.id);
        m.set(e.value.id, {
          name: old?.name ?? "",
          hue: old?.hue ?? 0,
          heads: e.value.heads.map((p) => clamp(p, len)),
          ranges: e.value.ranges
            .map(([a, b]): [number, number] => [clamp(Math.min(a, b), len), clamp(Math.max(a, b), len)])
            .filter(([a, b]) => a < b),
        });
      } else if (e.is(setCursorUser)) {
        const m = edit();
        const old = m.get(e.value.id);
        m.set(e.value.id, {
          heads: old?.heads ?? [],
          ranges: old?.ranges ?? [],
          name: e.value.name,
          hue: e.value.hue,
        });
      } else if (e.is(removeCursor)) {
        edit().delete(e.value);
      } else if (e.is(clearCursors)) {
        next = new Map();
      }
    }
    return next ?? value;
  },
  // Computed from the whole state (not just the field) because a caret on
  // the first line draws its name below instead of above.
  provide: (field) =>
    EditorView.decorations.compute([field, "doc"], (state) => decorations(state.field(field), state)),
});

/** A zero-width caret with the owner's name on a flag above it (below it
 * on the first line, where above would be cut off). */
class CaretWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly hue: number,
    readonly below: boolean,
  ) {
    super();
  }

  override eq(other: CaretWidget): boolean {
    return other.name === this.name && other.hue === this.hue && other.below === this.below;
  }

  toDOM(): HTMLElement {
    const caret = document.createElement("span");
    caret.className = "cm-remote-caret" + (this.below ? " cm-remote-caret-below" : "");
    caret.style.setProperty("--hue", String(this.hue));
    caret.setAttribute("aria-hidden", "true");
    const flag = document.createElement("span");
    flag.className = "cm-remote-name";
    flag.textContent = this.name;
    caret.append(flag);
    return caret;
  }

  override ignoreEvent(): boolean {
    return true;
  }
}

function decorations(cursors: Cursors, state: EditorState): DecorationSet {
  const out: Range<Decoration>[] = [];
  for (const c of cursors.values()) {
    if (!c.name) continue; // not announced yet
    const style = `--hue: ${c.hue}`;
    for (const [a, b] of c.ranges) {
      out.push(Decoration.mark({ class: "cm-remote-selection", attributes: { style } }).range(a, b));
    }
    for (const h of c.heads) {
      const below = state.doc.lineAt(h).number === 1;
      out.push(Decoration.widget({ widget: new CaretWidget(c.name, c.hue, below), side: 1 }).range(h));
    }
  }
  return Decoration.set(out, true);
}


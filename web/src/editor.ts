// The CodeMirror editor: its extensions, the settings that can change at
// run time (each in its own Compartment), and the two doors of the sync —
// local changes out, remote changes in.

import { ChangeSet, Compartment, EditorState, type Extension, Annotation, Transaction } from "@codemirror/state";
import { EditorView, placeholder } from "@codemirror/view";
import { defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { oneDarkHighlightStyle } from "@codemirror/theme-one-dark";
import { editorSetup } from "./setup";
import { remoteCursors, setCursor, setCursorUser, removeCursor, clearCursors } from "./cursors";
import { languageInfo } from "./languages";
import type { Language } from "./protocol";

/** Marks transactions that come from the server (or from a resync), which
 * must not be sent back. */
const remote = Annotation.define<true>();

/** `[fromUtf16, toUtf16, insert]` in the text before the change. */
export type LocalChange = [number, number, string];

export interface EditorHooks {
  /** A local edit, as the changes of one transaction. */
  onLocalChanges(changes: LocalChange[]): void;
  /** The local selection changed (or moved with the text). */
  onSelection(): void;
  /** Files dropped on the editor. */
  onDropFiles(files: FileList): void;
}

export class Editor {
  readonly view: EditorView;
  private readonly language = new Compartment();
  private readonly wrap = new Compartment();
  private readonly highlight = new Compartment();
  private readonly vim = new Compartment();
  private readonly editable = new Compartment();
  /** The empty editor's placeholder, which depends on whether it is editable. */
  private readonly hint = new Compartment();
  /** Bumped per language request, so a slow load never overrides a later one. */
  private languageRequest = 0;
  private vimRequest = 0;

  constructor(parent: HTMLElement, hooks: EditorHooks, opts: { wrap: boolean; dark: boolean }) {
    const sync = EditorView.updateListener.of((update) => {
      for (const tr of update.transactions) {
        if (!tr.docChanged || tr.annotation(remote)) continue;
        // Pre-change coordinates (fromA, toA): what Doc.localChanges takes.
        // Work per keystroke is proportional to the change, not the text.
        const changes: LocalChange[] = [];
        tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
          changes.push([fromA, toA, inserted.toString()]);
        });
        hooks.onLocalChanges(changes);
      }
      if (update.selectionSet || (update.docChanged && update.transactions.some((t) => !t.annotation(remote)))) {
        hooks.onSelection();
      }
    });

    const state = EditorState.create({
      doc: "",
      extensions: [
        this.vim.of([]), // first: Vim's keymap must precede the others
        editorSetup(),
        // Only "\n" breaks lines, so every other character ("\r"
        // included) is kept as is and the editor's UTF-16 offsets are the
        // OT core's: the text round-trips byte for byte.
        EditorState.lineSeparator.of("\n"),
        this.highlight.of(highlightFor(opts.dark)),
        this.language.of([]),
        this.wrap.of(opts.wrap ? EditorView.lineWrapping : []),
        this.editable.of(readOnly(true)),
        this.hint.of(placeholder("Loading the document…")),
        remoteCursors,
        EditorView.contentAttributes.of({ "aria-label": "Document text" }),
        EditorView.domEventHandlers({
          drop(event) {
            const files = event.dataTransfer?.files;
            if (!files || files.length === 0) return false;
            event.preventDefault();
            hooks.onDropFiles(files);
            return true;
          },
        }),
        // Windows line ends become "\n" when pasted or dropped, so
        // they do not show up as stray "\r" characters.
        EditorView.clipboardInputFilter.of((text) => text.replace(/\r\n?/g, "\n")),
        sync,
      ],
    });
    this.view = new EditorView({ state, parent });
  }

  /** The whole text. O(n): for recovery, downloads and tests only. */
  text(): string {
    return this.view.state.doc.toString();
  }

  get length(): number {
    return this.view.state.doc.length;
  }

  isEmpty(): boolean {
    return this.view.state.doc.length === 0;
  }

  setEditable(on: boolean): void {
    this.view.dispatch({
      effects: [
        this.editable.reconfigure(readOnly(!on)),
        this.hint.reconfigure(
          placeholder(on ? "Start typing — everyone with the link sees it live." : "Loading the document…"),
        ),
      ],
    });
  }

  /** Loaded, and read-only for good (opened with a read-only link):
   * CodeMirror's `readOnly` state and a non-editable view. */
  setViewOnly(): void {
    this.view.dispatch({
      effects: [
        this.editable.reconfigure(readOnly(true)),
        this.hint.reconfigure(placeholder("The document is empty. You are viewing it read-only.")),
      ],
    });
  }

  /** Applies the server's changes (UTF-16, pre-change coordinates, one
   * batch after another) as one transaction: not sent back, not undoable. */
  applyRemote(batches: { from: number; to: number; insert: string }[][]): void {
    if (batches.length === 0) return;
    let len = this.view.state.doc.length;
    let set: ChangeSet | null = null;
    for (const batch of batches) {
      const cs = ChangeSet.of(batch, len, "\n");
      set = set ? set.compose(cs) : cs;
      len = cs.newLength;
    }
    if (set && !set.empty) {
      this.view.dispatch({
        changes: set,
        annotations: [remote.of(true), Transaction.addToHistory.of(false)],
      });
    }
  }

  /** Replaces the whole text (first load, or discarding local edits). */
  replaceAll(text: string): void {
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: text },
      annotations: [remote.of(true), Transaction.addToHistory.of(false)],
    });
  }

  /** Replaces the whole text as a local, undoable edit (opening a file). */
  replaceAllLocally(text: string): void {
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: text },
      userEvent: "input.file",
    });
  }

  /** The local selection: carets and non-empty ranges (UTF-16). */
  selection(): { heads: number[]; ranges: [number, number][] } {
    const sel = this.view.state.selection;
    return {
      heads: sel.ranges.map((r) => r.head),
      ranges: sel.ranges.filter((r) => !r.empty).map((r): [number, number] => [r.from, r.to]),
    };
  }

  setRemoteCursor(id: number, heads: number[], ranges: [number, number][]): void {
    this.view.dispatch({ effects: setCursor.of({ id, heads, ranges }) });
  }

  setRemoteUser(id: number, name: string, hue: number): void {
    this.view.dispatch({ effects: setCursorUser.of({ id, name, hue }) });
  }

  removeRemoteCursor(id: number): void {
    this.view.dispatch({ effects: removeCursor.of(id) });
  }

  clearRemoteCursors(): void {
    this.view.dispatch({ effects: clearCursors.of(null) });
  }

  /** Loads the language's support (lazily) and switches to it. */
  async setLanguage(name: Language): Promise<void> {
    const request = ++this.languageRequest;
    const load = languageInfo(name).load;
    let ext: Extension = [];
    if (load) {
      try {
        ext = await load();
      } catch (e) {
        console.warn(`could not load ${name} support`, e);
        ext = [];
      }
    }
    if (request === this.languageRequest) {
      this.view.dispatch({ effects: this.language.reconfigure(ext) });
    }
  }

  setWrap(on: boolean): void {
    this.view.dispatch({ effects: this.wrap.reconfigure(on ? EditorView.lineWrapping : []) });
  }

  setDark(dark: boolean): void {
    this.view.dispatch({ effects: this.highlight.reconfigure(highlightFor(dark)) });
  }

  /** Font size is a CSS variable on the editor; tell CodeMirror to
   * re-measure line heights after it changes. */
  setFontSize(px: number): void {
    this.view.dom.style.setProperty("--editor-font-size", `${px}px`);
    this.view.requestMeasure();
  }

  /** The Vim keymap is loaded only when someone turns it on. */
  async setVim(on: boolean): Promise<void> {
    const request = ++this.vimRequest;
    let ext: Extension = [];
    if (on) {
      try {
        ext = (await import("@replit/codemirror-vim")).vim();
      } catch (e) {
        console.warn("could not load the Vim keymap", e);
      }
    }
    if (request === this.vimRequest) this.view.dispatch({ effects: this.vim.reconfigure(ext) });
  }

  focus(): void {
    this.view.focus();
  }

  destroy(): void {
    this.view.destroy();
  }
}

function readOnly(on: boolean): Extension {
  return [EditorState.readOnly.of(on), EditorView.editable.of(!on)];
}

function highlightFor(dark: boolean): Extension {
  return syntaxHighlighting(dark ? oneDarkHighlightStyle : defaultHighlightStyle);
}

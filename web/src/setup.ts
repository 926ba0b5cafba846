// The editor's standard extensions: CodeMirror's `minimalSetup` plus most
// of what its `basicSetup` adds — without autocompletion and linting.
// Nothing here provides completions or diagnostics, and leaving them out
// keeps about 15 KiB (gzipped) off the first page load.

import { minimalSetup } from "codemirror";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { bracketMatching, foldGutter, foldKeymap, indentOnInput } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { EditorState, type Extension } from "@codemirror/state";
import {
  crosshairCursor,
  dropCursor,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  rectangularSelection,
} from "@codemirror/view";

export function editorSetup(): Extension {
  return [
    // Before minimalSetup's default keymap, which also binds Backspace:
    // earlier keymaps take precedence (as in basicSetup). Tab is not bound
    // (no indentWithTab): it moves the focus out of the editor, so
    // keyboard users are never trapped in it.
    keymap.of([...closeBracketsKeymap, ...searchKeymap, ...foldKeymap]),
    lineNumbers(),
    highlightActiveLineGutter(),
    foldGutter(),
    // Special characters, undo history, drawn selection, the fallback
    // highlight style, the default and history keymaps.
    minimalSetup,
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    bracketMatching(),
    closeBrackets(),
    rectangularSelection(),
    crosshairCursor(),
    highlightActiveLine(),
    highlightSelectionMatches(),
  ];
}

// Entry point, kept small so that it runs early: it starts compiling the
// OT core and connecting to the document at once, then loads the rest of
// the page (app.ts: the editor and the controls, most of the JavaScript),
// which index.html already preloads in parallel. The socket handshake and
// the server's greeting thus overlap with downloading and starting the
// editor, instead of following them.

import "./styles.css";
import { route } from "./opening";
import { loadPreferences } from "./storage";
import { loadWasm } from "./wasm";

performance.mark("tandem:main");
void loadWasm();
const prefs = loadPreferences();
const first = route(location.hash, prefs);

import("./app").then(
  (app) => {
    performance.mark("tandem:app");
    app.start(prefs, first);
  },
  () => {
    // Only the page's own files failed to load (offline, a deploy midway):
    // say so instead of "Connecting…" forever.
    const text = document.getElementById("status-text");
    if (text) text.textContent = "The editor could not be loaded — reload the page";
  },
);

// The page around the document: the editor, the top bar, the sidebar and
// the screens, wired to the Session that main.ts (or a hash change here)
// opened.

import { discardEarlySocket } from "./connection";
import { Editor } from "./editor";
import { fileName, languageForFile, languageInfo } from "./languages";
import { formatHash, isViewOnly, parseHash, viewLink } from "./link";
import { infoFromPrefs, route, type Route } from "./opening";
import type { Session, Status } from "./session";
import { savePreferences, type Preferences } from "./storage";
import { byId } from "./ui/dom";
import { download, readTextFile } from "./ui/files";
import { ShareBox } from "./ui/share";
import { Sidebar } from "./ui/sidebar";
import { StatusView } from "./ui/status";
import { Theme } from "./ui/theme";
import { toast } from "./ui/toast";

export function start(prefs: Preferences, first: Route): void {
  let editor: Editor | null = null;
  let session: Session | null = null;
  let status: Status = { kind: "connecting" };
  let shown = 0;
  let markedEditable = false;

  const me = () => infoFromPrefs(prefs);
  const share = new ShareBox();
  const statusView = new StatusView({
    retryNow: () => session?.retryNow(),
    useOtp: (otp) => {
      if (!session) return;
      history.replaceState(null, "", formatHash({ id: session.addr.id, otp }));
      session.useOtp(otp);
      share.set(session.addr);
    },
    resume: (discard) => session?.resumeFromPause(discard),
    download: downloadText,
    newDocument: () => {
      history.replaceState(null, "", location.pathname + location.search);
      void show(route("", prefs));
    },
  });

  // Declared before the theme, whose callback runs at once (no TDZ).
  let sidebar: Sidebar | null = null;
  const theme = new Theme(prefs.theme, (dark) => {
    editor?.setDark(dark);
    sidebar?.setThemeChoice(prefs.theme, dark);
    byId("theme-toggle").setAttribute("aria-label", dark ? "Switch to light mode" : "Switch to dark mode");
  });

  const bar = new Sidebar(prefs, {
    setName(name) {
      prefs.name = name;
      savePreferences(prefs);
      bar.setMe(me());
      session?.infoChanged();
    },
    setHue(hue, final) {
      bar.setMe({ name: prefs.name, hue });
      if (!final) return;
      prefs.hue = hue;
      prefs.hueChosen = true;
      savePreferences(prefs);
      session?.infoChanged();
    },
    setLanguage(name) {
      const sent = session?.setLanguage(name) ?? false;
      if (!sent) toast("Not connected: the language can be changed once the connection is back.");
      return sent;
    },
    setProtection(enabled) {
      const sent = session?.setProtection(enabled) ?? false;
      if (!sent) toast("Not connected: try again once the connection is back.");
      return sent;
    },
    setViewLink(enabled) {
      const sent = session?.setViewLink(enabled) ?? false;
      if (!sent) toast("Not connected: try again once the connection is back.");
      return sent;
    },
    download: downloadText,
    openFile: (file) => void openFile(file),
    setWrap(on) {
      prefs.wrap = on;
      savePreferences(prefs);
      editor?.setWrap(on);
    },
    setVim(on) {
      prefs.vim = on;
      savePreferences(prefs);
      void editor?.setVim(on);
    },
    setFontSize(px) {
      prefs.fontSize = px;
      savePreferences(prefs);
      editor?.setFontSize(px);
    },
    setTheme(choice) {
      prefs.theme = choice;
      savePreferences(prefs);
      theme.set(choice);
    },
  });
  sidebar = bar;
  bar.setMe(me());
  bar.setThemeChoice(prefs.theme, theme.dark);

  byId("skip-link").addEventListener("click", () => editor?.focus());

  byId("theme-toggle").addEventListener("click", () => {
    prefs.theme = theme.dark ? "light" : "dark";
    savePreferences(prefs);
    theme.set(prefs.theme);
  });

  function downloadText(): void {
    if (!editor || !session) return;
    download(editor.text(), fileName(session.addr.id, session.language));
  }

  async function openFile(file: File): Promise<void> {
    if (session?.viewOnly) {
      toast("This is a read-only link: the document cannot be changed from here.");
      return;
    }
    if (!editor || !session?.isEditable) {
      toast("The document is not loaded yet.");
      return;
    }
    const text = await readTextFile(file, (m) => toast(m));
    if (text === null || !editor || !session) return;
    if (
      !editor.isEmpty() &&
      !confirm(`Replace the whole document with ${file.name}? Everyone here will see the change.`)
    ) {
      return;
    }
    editor.replaceAllLocally(text);
    const lang = languageForFile(file.name);
    if (lang && lang !== session.language) session.setLanguage(lang);
    toast(`Opened ${file.name}.`);
  }

  /** Shows the document `r` opens, in a fresh editor. */
  async function show(r: Route): Promise<void> {
    const token = ++shown;
    session?.dispose();
    session = null;
    editor?.destroy();
    editor = null;
    bar.setLanguage("plaintext");
    bar.setProtected(null);
    bar.setViewLink(null);
    bar.setViewOnly(r.kind === "open" && isViewOnly(r.addr));
    byId("view-only").hidden = !(r.kind === "open" && isViewOnly(r.addr));
    bar.setOthers([]);
    bar.setConnected(false);
    if (r.kind === "invalid") {
      discardEarlySocket();
      statusView.set({
        kind: "invalid",
        message: "Document ids are 1–64 letters, digits, '-' or '_'. Check the link, or start a new document.",
      });
      return;
    }
    share.set(r.addr);
    document.title = `${r.addr.id} · Tandem`;
    const s = await r.session;
    discardEarlySocket(); // the first session took it, or nobody will
    if (token !== shown) {
      s.dispose(); // another document was opened meanwhile
      return;
    }
    session = s;
    s.roster.onChange(() => bar.setOthers(s.roster.others()));
    s.listen({
      status(st) {
        status = st;
        statusView.set(st);
        bar.setConnected(st.kind === "connected");
      },
      synced: (yes) => statusView.setSynced(yes),
      language(name, by) {
        bar.setLanguage(name);
        if (by) toast(`${by} changed the language to ${languageInfo(name).label}`);
      },
      otp(otp, by, changed) {
        history.replaceState(null, "", formatHash(s.addr));
        share.set(s.addr);
        bar.setProtected(otp);
        if (!changed) return;
        const who = by ?? "You";
        toast(
          otp === null
            ? `${who} removed the protection: anyone with the link can edit.`
            : `${who} protected the document with a new OTP. The share link includes it.`,
        );
      },
      viewLink(secret, by, changed) {
        bar.setViewLink(secret === null ? null : viewLink(window.location, s.addr.id, secret));
        if (!changed) return;
        const who = by ?? "You";
        toast(
          secret === null
            ? `${who} removed the read-only link; whoever used it was disconnected.`
            : `${who} made a new read-only link (see the sidebar); the previous one, if any, stopped working.`,
        );
      },
      notice: (text) => toast(text, 6000),
      editable() {
        if (!markedEditable) {
          markedEditable = true;
          performance.mark("tandem:editable");
        }
        if (!document.activeElement || document.activeElement === document.body) editor?.focus();
      },
      hueChanged(hue) {
        prefs.hue = hue;
        savePreferences(prefs);
        bar.setMe(me());
      },
    });

    const ed = new Editor(
      byId("editor"),
      {
        onLocalChanges: (changes) => s.localChanges(changes),
        onSelection: () => s.selectionChanged(),
        onDropFiles: (files) => {
          const f = files[0];
          if (f) void openFile(f);
        },
      },
      { wrap: prefs.wrap, dark: theme.dark },
    );
    editor = ed;
    ed.setFontSize(prefs.fontSize);
    if (prefs.vim) void ed.setVim(true);
    s.attach(ed);
  }

  window.addEventListener("hashchange", () => {
    const addr = parseHash(location.hash);
    // A read-only link and an edit link to the same document are different
    // sessions (the role is fixed per connection).
    if (session && addr && session.addr.id === addr.id && (addr.view ?? null) === (session.addr.view ?? null)) {
      // Same document, new OTP (someone pasted the full link).
      if (addr.otp && addr.otp !== session.addr.otp) {
        session.useOtp(addr.otp);
        share.set(session.addr);
      }
      return;
    }
    void show(route(location.hash, prefs));
  });
  window.addEventListener("online", () => session?.retryNow());
  window.addEventListener("beforeunload", (e) => {
    // Edits not yet acknowledged live only in this tab.
    if (session && !session.isSynchronized) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  // For the end-to-end tests and for debugging from the console.
  Object.defineProperty(window, "__tandem", {
    value: {
      text: () => editor?.text() ?? "",
      synced: () => session?.isSynchronized ?? false,
      connected: () => session?.isConnected ?? false,
      status: () => status.kind,
      viewOnly: () => session?.viewOnly ?? false,
      editor: () => editor?.view,
    },
  });

  void show(first);
}

// The sidebar: people present, your name and colour, the document's
// language and protection, files, and editor settings. Collapsible; on a
// phone-sized screen it is a drawer over the editor.

import { allLanguages, languageInfo } from "../languages";
import { isLanguage, type Language, type UserInfo } from "../protocol";
import { FONT_SIZES, type Preferences, type ThemeChoice } from "../storage";
import { cleanName, hueColor } from "../users";
import { byId, h } from "./dom";
import { wireCopy } from "./share";

export interface SidebarActions {
  setName(name: string): void;
  /** `final` false while dragging the slider (preview only). */
  setHue(hue: number, final: boolean): void;
  setLanguage(name: Language): boolean;
  setProtection(enabled: boolean): boolean;
  /** Make a new read-only link (replacing any), or remove it. */
  setViewLink(enabled: boolean): boolean;
  download(): void;
  openFile(file: File): void;
  setWrap(on: boolean): void;
  setVim(on: boolean): void;
  setFontSize(px: number): void;
  setTheme(choice: ThemeChoice): void;
}

const NARROW = "(max-width: 760px)";

export class Sidebar {
  private readonly people = byId<HTMLUListElement>("people");
  private readonly language = byId<HTMLSelectElement>("language");
  private readonly nameInput = byId<HTMLInputElement>("me-name");
  private readonly hueInput = byId<HTMLInputElement>("me-hue");
  private readonly toggle = byId<HTMLButtonElement>("sidebar-toggle");
  private current: Language = "plaintext";
  private dark = false;
  private me: UserInfo;
  private others: [number, UserInfo][] = [];
  private connected = false;
  private protectedDoc = false;
  private viewLink: string | null = null;
  private viewOnly = false;

  constructor(
    prefs: Preferences,
    actions: SidebarActions,
  ) {
    this.me = { name: prefs.name, hue: prefs.hue };

    // Open by default on wide screens, closed on narrow ones.
    this.setOpen(!window.matchMedia(NARROW).matches);
    this.toggle.addEventListener("click", () => this.setOpen(!this.isOpen()));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.isOpen() && window.matchMedia(NARROW).matches) {
        this.setOpen(false);
        this.toggle.focus();
      }
    });

    this.nameInput.value = prefs.name;
    const commitName = () => {
      const name = cleanName(this.nameInput.value);
      if (!name) {
        this.nameInput.value = this.me.name;
        return;
      }
      this.nameInput.value = name;
      if (name !== this.me.name) actions.setName(name);
    };
    this.nameInput.addEventListener("change", commitName);
    byId<HTMLFormElement>("me-form").addEventListener("submit", (e) => {
      e.preventDefault();
      commitName();
    });
    this.hueInput.value = String(prefs.hue);
    this.hueInput.addEventListener("input", () => actions.setHue(Number(this.hueInput.value), false));
    this.hueInput.addEventListener("change", () => actions.setHue(Number(this.hueInput.value), true));

    for (const lang of allLanguages()) {
      this.language.append(h("option", { value: lang.name, textContent: lang.label }));
    }
    this.language.addEventListener("change", () => {
      const name = this.language.value;
      if (!isLanguage(name) || !actions.setLanguage(name)) this.language.value = this.current;
    });

    byId("download").addEventListener("click", () => actions.download());
    const fileInput = byId<HTMLInputElement>("file-input");
    byId("open-file").addEventListener("click", () => fileInput.click());
    fileInput.addEventListener("change", () => {
      const file = fileInput.files?.[0];
      fileInput.value = "";
      if (file) actions.openFile(file);
    });

    byId("protect").addEventListener("click", () => actions.setProtection(true));
    byId("rotate").addEventListener("click", () => actions.setProtection(true));
    byId("unprotect").addEventListener("click", () => actions.setProtection(false));
    byId("view-link-create").addEventListener("click", () => actions.setViewLink(true));
    byId("view-link-rotate").addEventListener("click", () => {
      if (confirm("Make a new read-only link? Whoever has the current one is disconnected and needs the new one.")) {
        actions.setViewLink(true);
      }
    });
    byId("view-link-remove").addEventListener("click", () => {
      if (confirm("Remove the read-only link? Whoever is viewing through it is disconnected.")) {
        actions.setViewLink(false);
      }
    });
    wireCopy(byId<HTMLInputElement>("view-link"), byId<HTMLButtonElement>("copy-view-link"), "Copy");

    const wrap = byId<HTMLInputElement>("wrap");
    wrap.checked = prefs.wrap;
    wrap.addEventListener("change", () => actions.setWrap(wrap.checked));
    const vim = byId<HTMLInputElement>("vim");
    vim.checked = prefs.vim;
    vim.addEventListener("change", () => actions.setVim(vim.checked));
    const size = byId<HTMLSelectElement>("font-size");
    for (const px of FONT_SIZES) size.append(h("option", { value: String(px), textContent: `${px} px` }));
    size.value = String(prefs.fontSize);
    size.addEventListener("change", () => actions.setFontSize(Number(size.value)));
    const theme = byId<HTMLSelectElement>("theme");
    theme.value = prefs.theme;
    theme.addEventListener("change", () => actions.setTheme(theme.value as ThemeChoice));
  }

  isOpen(): boolean {
    return document.body.classList.contains("sidebar-open");
  }

  setOpen(open: boolean): void {
    document.body.classList.toggle("sidebar-open", open);
    this.toggle.setAttribute("aria-expanded", String(open));
    this.toggle.setAttribute("aria-label", open ? "Hide people and settings" : "Show people and settings");
  }

  setThemeChoice(choice: ThemeChoice, dark: boolean): void {
    byId<HTMLSelectElement>("theme").value = choice;
    this.dark = dark;
    this.renderPeople();
  }

  setMe(info: UserInfo): void {
    this.me = info;
    if (document.activeElement !== this.nameInput) this.nameInput.value = info.name;
    this.hueInput.value = String(info.hue);
    this.hueInput.style.setProperty("--hue", String(info.hue));
    this.renderPeople();
  }

  setOthers(others: [number, UserInfo][]): void {
    this.others = others;
    this.renderPeople();
  }

  setLanguage(name: Language): void {
    this.current = name;
    this.language.value = name;
    byId("doc-lang").textContent = name === "plaintext" ? "" : languageInfo(name).label;
  }

  /** Whether the controls that talk to the server can be used now. */
  setConnected(connected: boolean): void {
    this.connected = connected;
    this.renderControls();
  }

  setProtected(otp: string | null): void {
    this.protectedDoc = otp !== null;
    byId("protect").hidden = otp !== null;
    byId("rotate").hidden = otp === null;
    byId("unprotect").hidden = otp === null;
    byId("protection-text").textContent =
      otp === null
        ? "Anyone with the link can edit."
        : "Protected: only links with the OTP open this document. The share link includes it.";
    this.renderControls();
  }

  /** The read-only link (a full URL), or null when there is none. */
  setViewLink(link: string | null): void {
    this.viewLink = link;
    byId<HTMLInputElement>("view-link").value = link ?? "";
    this.renderControls();
  }

  /** Opened with a read-only link: nothing here may change the document
   * (the language picker is disabled; protection, read-only link and
   * "Open file…" are hidden). */
  setViewOnly(on: boolean): void {
    this.viewOnly = on;
    document.body.classList.toggle("view-only-mode", on);
    this.renderControls();
  }

  private renderControls(): void {
    const usable = this.connected && !this.viewOnly;
    this.language.disabled = !usable;
    for (const id of ["protect", "rotate", "unprotect", "open-file"]) {
      byId<HTMLButtonElement>(id).disabled = id === "open-file" ? this.viewOnly : !usable;
    }
    const link = this.viewLink;
    byId("view-link-box").hidden = link === null;
    byId("view-link-create").hidden = link !== null;
    byId("view-link-rotate").hidden = link === null;
    byId("view-link-remove").hidden = link === null;
    for (const id of ["view-link-create", "view-link-rotate", "view-link-remove"]) {
      byId<HTMLButtonElement>(id).disabled = !usable || !this.protectedDoc;
    }
    byId("view-link-text").textContent = !this.protectedDoc
      ? "Protect the document to make a read-only link."
      : link === null
        ? "Make a link that lets people follow the document live without editing it."
        : "Whoever opens this link sees the document live but cannot edit it, nor learn the OTP.";
  }

  private renderPeople(): void {
    const item = (info: UserInfo, you: boolean) => {
      const dot = h("span", { className: "swatch" });
      dot.style.background = hueColor(info.hue, this.dark);
      dot.setAttribute("aria-hidden", "true");
      const li = h("li", {}, dot, h("span", { className: "person-name", textContent: info.name }));
      if (you) li.append(h("span", { className: "you", textContent: "(you)" }));
      return li;
    };
    const sorted = [...this.others].sort((a, b) => a[1].name.localeCompare(b[1].name));
    this.people.replaceChildren(item(this.me, true), ...sorted.map(([, info]) => item(info, false)));
    const count = byId("people-count");
    count.textContent = this.others.length > 0 ? String(this.others.length + 1) : "";
    this.toggle.title = `People (${this.others.length + 1}) and settings`;
  }
}

// Shows the session's state: the status in the top bar (with a countdown
// while waiting to reconnect), a banner for states that need a decision
// but leave the text usable, and a full screen for the ones that block the
// document (protected, invalid link).

import type { Status } from "../session";
import { otpFromInput } from "../link";
import { byId, h } from "./dom";

export interface StatusActions {
  retryNow(): void;
  useOtp(otp: string): void;
  /** Sync again after a refused edit; `discard` drops the local text. */
  resume(discard: boolean): void;
  download(): void;
  newDocument(): void;
}

export class StatusView {
  private status: Status = { kind: "connecting" };
  private synced = true;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private readonly root = byId("status");
  private readonly text = byId("status-text");
  private readonly retry = byId<HTMLButtonElement>("status-retry");
  private readonly banner = byId("banner");
  private readonly screen = byId("screen");
  private readonly otpForm = byId<HTMLFormElement>("otp-form");
  private readonly otpInput = byId<HTMLInputElement>("otp-input");

  constructor(private readonly actions: StatusActions) {
    this.retry.addEventListener("click", () => actions.retryNow());
    this.otpForm.addEventListener("submit", (e) => {
      e.preventDefault();
      const otp = this.otpInput.value.trim();
      if (otp) actions.useOtp(otpFromInput(otp));
    });
  }

  set(status: Status): void {
    this.status = status;
    this.render();
  }

  setSynced(synced: boolean): void {
    this.synced = synced;
    this.render();
  }

  private render(): void {
    const s = this.status;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.root.dataset.state = s.kind === "connected" && !this.synced ? "saving" : s.kind;
    this.retry.hidden = s.kind !== "waiting";
    this.root.title = "";
    switch (s.kind) {
      case "connecting":
        this.text.textContent = "Connecting…";
        break;
      case "connected":
        this.text.textContent = this.synced ? "Connected" : "Saving…";
        this.root.title = this.synced ? "Every edit is saved on the server" : "Sending your latest edits";
        break;
      case "waiting": {
        const tick = () => {
          const secs = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
          const when = secs > 0 ? `in ${secs} s` : "now";
          this.text.textContent = s.offline
            ? "Offline — your edits are kept"
            : s.everConnected
              ? `Reconnecting ${when} (${s.reason})`
              : `Server unreachable — retrying ${when}`;
        };
        tick();
        this.ticker = setInterval(tick, 1000);
        this.root.title = `${s.reason}. Edits made now are kept and sent when the connection is back.`;
        break;
      }
      case "protected":
        this.text.textContent = "Protected";
        break;
      case "invalid":
        this.text.textContent = "Invalid link";
        break;
      case "replaced":
        this.text.textContent = "Opened elsewhere";
        break;
      case "too-large":
        this.text.textContent = "Not syncing";
        break;
      case "revoked":
        this.text.textContent = "Read-only link revoked";
        break;
    }
    this.renderBanner();
    this.renderScreen();
  }

  private renderBanner(): void {
    const s = this.status;
    const actions: HTMLElement[] = [];
    let text = "";
    const button = (label: string, onClick: () => void, primary = false) =>
      h("button", { type: "button", className: primary ? "button primary" : "button", textContent: label, onclick: onClick });
    if (s.kind === "waiting" && !s.everConnected && !s.offline) {
      text = `Can't reach the Tandem server (${s.reason}). It will keep trying; anything you type is kept.`;
    } else if (s.kind === "too-large") {
      const limit = s.limitBytes !== null ? ` (${Math.floor(s.limitBytes / 1024)} KiB)` : "";
      text =
        `Your last change would make the document larger than the server allows${limit}, so it was not saved. ` +
        "Your text is still here. Undo it or remove some text and syncing resumes by itself — or download your text.";
      actions.push(
        button("Try again", () => this.actions.resume(false), true),
        button("Download my text", () => this.actions.download()),
        button("Discard my unsaved changes", () => {
          if (confirm("Replace your text with the server's version? Your unsaved changes will be lost.")) {
            this.actions.resume(true);
          }
        }),
      );
    } else if (s.kind === "replaced") {
      text =
        "This document was opened elsewhere with this tab's identity (a duplicated tab or window), " +
        "so this copy stopped syncing. Your edits here are kept.";
      actions.push(button("Use it here", () => this.actions.retryNow(), true));
    }
    this.banner.hidden = text === "";
    byId("banner-text").textContent = text;
    byId("banner-actions").replaceChildren(...actions);
  }

  private renderScreen(): void {
    const s = this.status;
    const title = byId("screen-title");
    const text = byId("screen-text");
    const actions = byId("screen-actions");
    actions.replaceChildren();
    this.otpForm.hidden = true;
    if (s.kind === "protected") {
      title.textContent = "This document is protected";
      text.textContent =
        "Enter its one-time password (OTP), or open the full link you were given — it ends in ?otp=…";
      this.otpForm.hidden = false;
      byId("otp-error").hidden = !s.triedOtp;
      this.show();
      this.otpInput.focus();
    } else if (s.kind === "revoked") {
      title.textContent = "This read-only link no longer works";
      text.textContent =
        "An editor of the document replaced or removed it (or removed the document's protection). " +
        "Ask them for the current link.";
      const start = h("button", {
        type: "button",
        className: "button primary",
        textContent: "Start a new document",
        onclick: () => this.actions.newDocument(),
      });
      actions.append(start);
      this.show();
      start.focus();
    } else if (s.kind === "invalid") {
      title.textContent = "This link does not name a document";
      text.textContent = s.message;
      const start = h("button", {
        type: "button",
        className: "button primary",
        textContent: "Start a new document",
        onclick: () => this.actions.newDocument(),
      });
      actions.append(start);
      this.show();
      start.focus();
    } else {
      this.setScreen(false);
    }
  }

  private show(): void {
    this.setScreen(true);
  }

  /** The screen is modal: everything behind it is inert (not focusable,
   * hidden from assistive technology) while it shows. */
  private setScreen(visible: boolean): void {
    this.screen.hidden = !visible;
    for (const el of document.querySelectorAll<HTMLElement>("body > header, body > .layout, #banner, #skip-link")) {
      el.inert = visible;
    }
  }
}

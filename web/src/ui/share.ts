// The share link in the top bar and its copy button.

import { shareLink, type DocAddress } from "../link";
import { byId } from "./dom";

export class ShareBox {
  private readonly input = byId<HTMLInputElement>("share-link");
  private readonly button = byId<HTMLButtonElement>("copy-link");
  private resetTimer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    this.button.addEventListener("click", () => void this.copy());
    // Selecting all on focus makes manual copying one keystroke.
    this.input.addEventListener("focus", () => this.input.select());
  }

  set(addr: DocAddress): void {
    this.input.value = shareLink(window.location, addr);
    byId("doc-id").textContent = addr.id;
  }

  private async copy(): Promise<void> {
    const link = this.input.value;
    let ok = false;
    try {
      await navigator.clipboard.writeText(link);
      ok = true;
    } catch {
      // Clipboard API unavailable (insecure context): select for Ctrl+C.
      this.input.focus();
      this.input.select();
      ok = document.execCommand?.("copy") ?? false;
    }
    this.button.textContent = ok ? "Copied!" : "Press Ctrl+C";
    if (this.resetTimer) clearTimeout(this.resetTimer);
    this.resetTimer = setTimeout(() => (this.button.textContent = "Copy link"), 2000);
  }
}

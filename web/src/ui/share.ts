// The share link in the top bar and its copy button (also used for the
// read-only link in the sidebar).

import { shareLink, type DocAddress } from "../link";
import { byId } from "./dom";

export class ShareBox {
  private readonly input = byId<HTMLInputElement>("share-link");
  private readonly button = byId<HTMLButtonElement>("copy-link");

  constructor() {
    wireCopy(this.input, this.button, "Copy link");
  }

  set(addr: DocAddress): void {
    this.input.value = shareLink(window.location, addr);
    byId("doc-id").textContent = addr.id;
  }
}

/** Makes `button` copy `input`'s value (falling back to selecting it for
 * Ctrl+C), and `input` select all on focus (manual copying is then one
 * keystroke). The button says how it went, then `label` again. */
export function wireCopy(input: HTMLInputElement, button: HTMLButtonElement, label: string): void {
  let resetTimer: ReturnType<typeof setTimeout> | null = null;
  input.addEventListener("focus", () => input.select());
  button.addEventListener("click", () => {
    void (async () => {
      const text = input.value;
      let ok = false;
      try {
        await navigator.clipboard.writeText(text);
        ok = true;
      } catch {
        // Clipboard API unavailable (insecure context): select for Ctrl+C.
        input.focus();
        input.select();
        ok = document.execCommand?.("copy") ?? false;
      }
      button.textContent = ok ? "Copied!" : "Press Ctrl+C";
      if (resetTimer) clearTimeout(resetTimer);
      resetTimer = setTimeout(() => (button.textContent = label), 2000);
    })();
  });
}

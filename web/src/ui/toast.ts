// Brief messages ("Ann changed the language to Rust"), announced to screen
// readers through the container's aria-live region.

import { byId, h } from "./dom";

const MAX_VISIBLE = 3;

export function toast(text: string, ms = 4000): void {
  const box = byId("toasts");
  const el = h("div", { className: "toast", textContent: text });
  box.append(el);
  while (box.children.length > MAX_VISIBLE) box.firstElementChild?.remove();
  setTimeout(() => {
    el.classList.add("leaving");
    setTimeout(() => el.remove(), 300);
  }, ms);
}

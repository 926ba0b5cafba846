// Light and dark: follow the operating system unless the user chose one.
// The choice is applied as `data-theme` on <html> (index.html applies the
// stored one before the first paint); CSS variables do the rest.

import type { ThemeChoice } from "../storage";

const media = () => window.matchMedia("(prefers-color-scheme: dark)");

export function isDark(choice: ThemeChoice): boolean {
  return choice === "dark" || (choice === "system" && media().matches);
}

/** Applies `choice` and calls `onDark` now and whenever the effective
 * darkness changes (the OS switching, for "system"). */
export class Theme {
  private choice: ThemeChoice;

  constructor(
    choice: ThemeChoice,
    private readonly onDark: (dark: boolean) => void,
  ) {
    this.choice = choice;
    media().addEventListener("change", () => {
      if (this.choice === "system") this.apply();
    });
    this.apply();
  }

  get dark(): boolean {
    return isDark(this.choice);
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    this.apply();
  }

  private apply(): void {
    const root = document.documentElement;
    if (this.choice === "system") delete root.dataset.theme;
    else root.dataset.theme = this.choice;
    root.classList.toggle("dark", this.dark);
    this.onDark(this.dark);
  }
}

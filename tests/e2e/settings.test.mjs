// The editor's settings: Vim keys (loaded on demand), dark mode, font size
// and word wrap, kept across reloads in localStorage; and the page on a
// phone-sized screen, where the sidebar is a drawer.

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  WAIT_MS,
  editorText,
  launchUser,
  startServer,
  tempDir,
  waitEditable,
  waitUntil,
} from "./harness.mjs";

describe("settings", { timeout: 120_000 }, () => {
  const tmp = tempDir("tandem-e2e-settings-");
  let server;
  before(async () => {
    server = await startServer({ db: path.join(tmp.dir, "tandem.db") });
  });
  after(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it("Vim keys, dark mode, font size and wrapping apply and persist", { timeout: 60_000 }, async () => {
    const user = await launchUser();
    try {
      const { page } = user;
      await page.goto(`${server.url}/#settings-doc`);
      await waitEditable(page);

      await page.check("#vim");
      await page.locator(".cm-vimMode, .cm-fat-cursor").first().waitFor({ state: "attached", timeout: WAIT_MS });
      await page.click(".cm-content");
      await page.keyboard.type("ihello vim", { delay: 5 });
      await page.keyboard.press("Escape");
      await page.keyboard.type("0x", { delay: 5 }); // normal mode: delete the first character
      await waitUntil("Vim editing", async () => (await editorText(page)) === "ello vim");

      await page.selectOption("#theme", "dark");
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
      await page.selectOption("#font-size", "18");
      await page.uncheck("#wrap");
      const fontSize = () => page.evaluate(() => getComputedStyle(document.querySelector(".cm-content")).fontSize);
      assert.equal(await fontSize(), "18px");
      assert.equal(await page.locator(".cm-lineWrapping").count(), 0);

      await page.reload();
      await waitEditable(page);
      assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
      assert.equal(await fontSize(), "18px");
      assert.equal(await page.isChecked("#vim"), true);
      assert.equal(await page.isChecked("#wrap"), false);
      assert.deepEqual(user.errors, []);
    } finally {
      await user.close();
    }
  });

  it("on a phone-sized screen the sidebar is a drawer, toggled by its button", { timeout: 60_000 }, async () => {
    const user = await launchUser({ viewport: { width: 390, height: 760 } });
    try {
      const { page } = user;
      await page.goto(`${server.url}/#phone-doc`);
      await waitEditable(page);
      const toggle = page.locator("#sidebar-toggle");
      assert.equal(await page.locator("#sidebar").isVisible(), false);
      assert.equal(await toggle.getAttribute("aria-expanded"), "false");
      await toggle.click();
      assert.equal(await page.locator("#sidebar").isVisible(), true);
      assert.equal(await toggle.getAttribute("aria-expanded"), "true");
      await page.keyboard.press("Escape");
      assert.equal(await page.locator("#sidebar").isVisible(), false);
      // Nothing overflows the screen sideways.
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `page is ${width}px wide`);
    } finally {
      await user.close();
    }
  });
});

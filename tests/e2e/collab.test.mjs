// Two (then three) people editing one document in headless Chromium,
// against the real server: concurrent typing with emoji and non-Latin
// text, remote cursors with names, a language change, OTP protection, and
// a server restart (SIGTERM, same port and database) with an edit typed
// while it was down. The steps share one document and run in order.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  ROOT,
  WAIT_MS,
  editorText,
  freePort,
  isSettled,
  launchUser,
  serverText,
  startServer,
  tempDir,
  waitEditable,
  waitUntil,
} from "./harness.mjs";

const STEP = { timeout: 60_000 };

const SAMPLE = `// Edited live by Alice, Bob and Carol
fn greet(names: &[&str]) -> String {
    let joined = names.join(", ");
    format!("Hello, {joined}! 👋")
}

fn main() {
    println!("{}", greet(&["Alice", "Bob", "Carol"]));
}

`;

describe("two people editing one document", { timeout: 240_000 }, () => {
  const tmp = tempDir("tandem-e2e-");
  const db = path.join(tmp.dir, "tandem.db");
  let port;
  let server;
  let alice;
  let bob;
  let carol;
  let id;
  let otp;

  /** Both pages settled, with the same text as the server; returns it. */
  async function converged(pages, what) {
    let text;
    await waitUntil(`${what}: every page settled with the same text as the server`, async () => {
      const texts = [];
      for (const p of pages) {
        if (!(await isSettled(p))) return false;
        texts.push(await editorText(p));
      }
      const onServer = await serverText(server.url, id, otp);
      text = onServer;
      return texts.every((t) => t === onServer);
    }, 20_000);
    return text;
  }

  before(async () => {
    port = await freePort();
    server = await startServer({ port, db });
    alice = await launchUser({ prefs: { name: "Alice", hue: 20, hueChosen: true } });
    bob = await launchUser({ prefs: { name: "Bob", hue: 200, hueChosen: true } });
  });

  after(async () => {
    await alice?.close();
    await bob?.close();
    await carol?.close();
    await server?.stop();
    tmp.cleanup();
  });

  it("opening / creates a document with a random id in the hash", STEP, async () => {
    await alice.page.goto(`${server.url}/`);
    await waitEditable(alice.page);
    const hash = new URL(alice.page.url()).hash;
    assert.match(hash, /^#[A-Za-z0-9_-]{10,}$/);
    id = hash.slice(1);
    assert.equal(await alice.page.inputValue("#share-link"), `${server.url}/#${id}`);
  });

  it("two people type at once, emoji and non-Latin text included, and agree", STEP, async () => {
    await bob.page.goto(`${server.url}/#${id}`);
    await waitEditable(bob.page);

    await alice.page.click(".cm-content");
    await alice.page.keyboard.type("middle line\n", { delay: 5 });
    await converged([alice.page, bob.page], "seed line");

    // Alice types at the start, Bob at the end, at the same time.
    await alice.page.keyboard.press("Control+Home");
    await bob.page.click(".cm-content");
    await bob.page.keyboard.press("Control+End");
    const fromAlice = "Grüße 👋🏽 from Alice — 日本語 ";
    const fromBob = "Привет от Боба 🎉 مرحبا 你好";
    await Promise.all([
      alice.page.keyboard.type(fromAlice, { delay: 15 }),
      bob.page.keyboard.type(fromBob, { delay: 15 }),
    ]);
    const text = await converged([alice.page, bob.page], "concurrent typing");
    assert.equal(text, `${fromAlice}middle line\n${fromBob}`);
  });

  it("shows the other person's cursor with their name", STEP, async () => {
    await bob.page.keyboard.press("ArrowLeft");
    const flag = alice.page.locator(".cm-remote-name", { hasText: "Bob" });
    await flag.waitFor({ state: "visible", timeout: WAIT_MS });
    await alice.page.keyboard.press("End");
    await bob.page.locator(".cm-remote-name", { hasText: "Alice" }).waitFor({ timeout: WAIT_MS });
    // Both list each other as present.
    await alice.page.locator("#people li", { hasText: "Bob" }).waitFor({ timeout: WAIT_MS });
    await bob.page.locator("#people li", { hasText: "Alice" }).waitFor({ timeout: WAIT_MS });
  });

  it("a language change reaches the other page", STEP, async () => {
    await alice.page.selectOption("#language", "rust");
    await bob.page.locator("#doc-lang", { hasText: "Rust" }).waitFor({ timeout: WAIT_MS });
    assert.equal(await bob.page.inputValue("#language"), "rust");
    await bob.page.locator(".toast", { hasText: "Alice changed the language to Rust" }).waitFor({ timeout: WAIT_MS });
    // The download is named after the language.
    const [download] = await Promise.all([bob.page.waitForEvent("download"), bob.page.click("#download")]);
    assert.equal(download.suggestedFilename(), `${id}.rs`);
  });

  it("protection with an OTP keeps out a link without it", STEP, async () => {
    await alice.page.click("#protect");
    const link = await waitUntil("the share link to carry the OTP", async () => {
      const v = await alice.page.inputValue("#share-link");
      return v.includes("?otp=") ? v : null;
    });
    otp = decodeURIComponent(/[?&]otp=([^&]+)/.exec(link)?.[1] ?? "");
    assert.ok(otp && otp.length >= 16, `otp from ${link}`);
    // Everyone's link and address follow.
    await waitUntil("Bob's share link to carry the OTP", async () => (await bob.page.inputValue("#share-link")) === link);
    assert.ok(bob.page.url().endsWith(`#${id}?otp=${otp}`));

    carol = await launchUser({ prefs: { name: "Carol", hue: 290, hueChosen: true } });
    await carol.page.goto(`${server.url}/#${id}`);
    await carol.page.locator("#screen-title", { hasText: "This document is protected" }).waitFor({ timeout: WAIT_MS });
    assert.equal(await carol.page.evaluate(() => window.__tandem.text()), "");

    // A wrong OTP is refused, the right one opens the document.
    await carol.page.fill("#otp-input", "wrong-otp-wrong-");
    await carol.page.click("#otp-form button[type=submit]");
    await carol.page.locator("#otp-error").waitFor({ state: "visible", timeout: WAIT_MS });
    await carol.page.fill("#otp-input", otp);
    await carol.page.click("#otp-form button[type=submit]");
    await waitEditable(carol.page);
    assert.equal(await carol.page.locator("#screen").isHidden(), true);
    await converged([alice.page, bob.page, carol.page], "after Carol joined");
  });

  it("everyone reconnects after a server restart and keeps every edit", STEP, async () => {
    const before = await converged([alice.page, bob.page, carol.page], "before the restart");
    const stopped = await server.stop(); // SIGTERM: the server saves and says 1012
    assert.equal(stopped.code, 0, `server exit: ${JSON.stringify(stopped)}`);
    await alice.page.locator("#status[data-state=waiting]").waitFor({ timeout: WAIT_MS });

    // Typed while the server is down: kept in the page's Doc.
    await alice.page.click(".cm-content");
    await alice.page.keyboard.press("Control+End");
    const offline = " ✍️ typed while the server was down";
    await alice.page.keyboard.type(offline, { delay: 5 });
    assert.equal(await alice.page.evaluate(() => window.__tandem.synced()), false);

    server = await startServer({ port, db });
    const text = await converged([alice.page, bob.page, carol.page], "after the restart");
    assert.equal(text, before + offline);
    assert.ok(text.includes("Grüße 👋🏽 from Alice") && text.includes("Привет от Боба 🎉"));
    // Bob can still edit, and everyone sees it.
    await bob.page.click(".cm-content");
    await bob.page.keyboard.press("Control+End");
    await bob.page.keyboard.type("!", { delay: 5 });
    assert.equal(await converged([alice.page, bob.page, carol.page], "after an edit"), text + "!");
    for (const p of [alice, bob, carol]) assert.deepEqual(p.errors, []);
  });

  it("takes a screenshot of the editor", STEP, async () => {
    // Some code to show the highlighting, and Bob selecting a word in it.
    await alice.page.keyboard.press("Control+Home");
    await alice.page.keyboard.insertText(SAMPLE);
    await converged([alice.page, bob.page, carol.page], "the sample code");
    await alice.page.keyboard.press("Control+Home");
    await bob.page.keyboard.press("Control+Home");
    await bob.page.keyboard.press("ArrowDown");
    await bob.page.keyboard.press("ArrowDown");
    await bob.page.keyboard.press("End");
    await bob.page.keyboard.press("Shift+Control+ArrowLeft");
    await alice.page.locator(".cm-remote-selection").first().waitFor({ timeout: WAIT_MS });
    const dir = path.join(ROOT, "tests/artifacts");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "screenshot.png");
    await alice.page.screenshot({ path: file });
    if (process.env.UPDATE_DOCS_SCREENSHOT === "1") copyFileSync(file, path.join(ROOT, "docs/screenshot.png"));
  });
});

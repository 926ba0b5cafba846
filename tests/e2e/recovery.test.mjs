// The editor when things go wrong or are unusual: a refused oversized
// edit (4413), a server crash that loses acknowledged edits (SIGKILL, then
// a snapshot of another epoch on reconnect, onto which the page rebases
// its offline edits and puts back its lost ones), switching documents by changing the hash, and
// running under a sub-path (BASE_PATH).

import assert from "node:assert/strict";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
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

describe("recovery and addressing", { timeout: 240_000 }, () => {
  const tmp = tempDir("tandem-e2e-recovery-");
  const cleanups = [];
  after(async () => {
    for (const f of cleanups.reverse()) await f().catch(() => {});
    tmp.cleanup();
  });

  async function settledWith(page, base, id, expected, what) {
    await waitUntil(what, async () => {
      if (!(await isSettled(page))) return false;
      const [local, remote] = [await editorText(page), await serverText(base, id)];
      return local === expected && remote === expected;
    }, 20_000);
  }

  it("an edit the server refuses as too large keeps the text, and syncing resumes after undo", STEP, async () => {
    const server = await startServer({ db: path.join(tmp.dir, "limit.db"), env: { MAX_DOCUMENT_SIZE_KB: "1" } });
    cleanups.push(() => server.stop());
    const user = await launchUser();
    cleanups.push(() => user.close());
    const { page } = user;
    await page.goto(`${server.url}/`);
    await waitEditable(page);
    const id = new URL(page.url()).hash.slice(1);
    await page.keyboard.type("small text", { delay: 5 });
    await settledWith(page, server.url, id, "small text", "the small text to sync");

    await page.waitForTimeout(600); // a separate undo step for the paste
    const big = "0123456789".repeat(200); // 2,000 bytes > 1 KiB
    await page.keyboard.insertText(big);
    await page.locator("#banner", { hasText: "larger than the server allows (1 KiB)" }).waitFor({ timeout: WAIT_MS });
    assert.equal(await page.locator("#status").getAttribute("data-state"), "too-large");
    assert.equal(await editorText(page), "small text" + big, "the refused text stays in the editor");
    assert.equal(await serverText(server.url, id), "small text");

    // Undo brings the text under the limit: syncing resumes by itself.
    await page.keyboard.press("Control+z");
    await settledWith(page, server.url, id, "small text", "syncing to resume after undo");
    assert.equal(await page.locator("#banner").isHidden(), true);
    await page.keyboard.type("!", { delay: 5 });
    await settledWith(page, server.url, id, "small text!", "a later edit");
    assert.deepEqual(user.errors, []);
  });

  it("after a crash loses acknowledged edits, the page sends them again with what it typed offline", STEP, async () => {
    const port = await freePort();
    const db = path.join(tmp.dir, "crash.db");
    // No snapshot for a minute and the journal only every 15 s: the crash
    // below loses the acknowledged edits (beyond the default crash bound,
    // on purpose, so the loss is certain).
    const env = { PERSIST_IDLE_SECONDS: "60", PERSIST_MAX_INTERVAL_SECONDS: "600", PERSIST_MAX_LOSS_MS: "60000" };
    let server = await startServer({ port, db, env });
    cleanups.push(() => server.stop());
    const user = await launchUser();
    cleanups.push(() => user.close());
    const { page } = user;
    await page.goto(`${server.url}/`);
    await waitEditable(page);
    const id = new URL(page.url()).hash.slice(1);
    const lost = "acknowledged, never saved: ünïcödé 😀";
    await page.keyboard.type(lost, { delay: 5 });
    await settledWith(page, server.url, id, lost, "the text to be acknowledged");

    await server.kill();
    await waitUntil("the page to notice", async () =>
      ["waiting", "connecting"].includes(await page.locator("#status").getAttribute("data-state")),
    );
    const offline = " typed offline 👋";
    await page.keyboard.type(offline, { delay: 5 });
    server = await startServer({ port, db, env });
    // The restarted server is of another epoch and has none of the
    // acknowledged text: it sends a snapshot (empty) whose last_seq shows
    // which of the page's acknowledged edits it lost. The page takes them
    // out of the server text it knew, and sends them again with its
    // offline edit, rebased onto the snapshot: nothing is lost or doubled.
    await settledWith(page, server.url, id, lost + offline, "the page to rebase onto the snapshot");
    assert.deepEqual(user.errors, []);
  });

  it("changing the hash switches documents without reloading", STEP, async () => {
    const server = await startServer({ db: path.join(tmp.dir, "hash.db") });
    cleanups.push(() => server.stop());
    const user = await launchUser();
    cleanups.push(() => user.close());
    const { page } = user;
    await page.goto(`${server.url}/#first-doc`);
    await waitEditable(page);
    await page.keyboard.type("one", { delay: 5 });
    await settledWith(page, server.url, "first-doc", "one", "the first document");
    await page.evaluate(() => (window.__sameLoad = true));

    await page.evaluate(() => (location.hash = "#second-doc"));
    await waitUntil("the second document to open", async () => (await page.textContent("#doc-id")) === "second-doc");
    await waitEditable(page);
    await page.keyboard.type("two", { delay: 5 });
    await settledWith(page, server.url, "second-doc", "two", "the second document");
    assert.equal(await page.evaluate(() => window.__sameLoad), true, "no reload");
    assert.equal(await serverText(server.url, "first-doc"), "one");

    await page.goBack();
    await settledWith(page, server.url, "first-doc", "one", "back to the first document");
  });

  it("opens a local file (after confirming) and takes its language", STEP, async () => {
    const server = await startServer({ db: path.join(tmp.dir, "files.db") });
    cleanups.push(() => server.stop());
    const user = await launchUser();
    cleanups.push(() => user.close());
    const { page } = user;
    await page.goto(`${server.url}/`);
    await waitEditable(page);
    const id = new URL(page.url()).hash.slice(1);
    await page.keyboard.type("old text", { delay: 5 });
    const dialogs = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    const code = 'print("hello")\r\nprint("wörld 🌍")\r\n';
    await page.setInputFiles("#file-input", { name: "hello.py", mimeType: "text/x-python", buffer: Buffer.from(code) });
    const expected = code.replace(/\r\n/g, "\n");
    await settledWith(page, server.url, id, expected, "the file's text");
    assert.equal(dialogs.length, 1, "asked before replacing the text");
    await page.locator("#doc-lang", { hasText: "Python" }).waitFor({ timeout: WAIT_MS });
  });

  it("a tab opened from another, sharing its sessionStorage, gets its own identity", STEP, async () => {
    const server = await startServer({ db: path.join(tmp.dir, "tabs.db") });
    cleanups.push(() => server.stop());
    const user = await launchUser({ prefs: { name: "Twin", hue: 100, hueChosen: true } });
    cleanups.push(() => user.close());
    const { page } = user;
    await page.goto(`${server.url}/#twin-doc`);
    await waitEditable(page);
    // window.open copies sessionStorage, identity key included.
    const [second] = await Promise.all([
      user.context.waitForEvent("page"),
      page.evaluate(() => window.open(location.href, "_blank")),
    ]);
    await waitEditable(second);
    // Two people named Twin: the first tab was not replaced (4000).
    await page.locator("#people li", { hasText: "Twin" }).nth(1).waitFor({ timeout: WAIT_MS });
    await second.keyboard.type("from the second tab", { delay: 5 });
    await settledWith(page, server.url, "twin-doc", "from the second tab", "the first tab to see the second's edit");
    assert.equal(await page.locator("#status").getAttribute("data-state"), "connected");
  });

  it("works under a sub-path (BASE_PATH)", STEP, async () => {
    const server = await startServer({ db: path.join(tmp.dir, "base.db"), env: { BASE_PATH: "/tools/pad" } });
    cleanups.push(() => server.stop());
    assert.ok(server.url.endsWith("/tools/pad"), server.url);
    const user = await launchUser();
    cleanups.push(() => user.close());
    const { page } = user;
    await page.goto(`${server.url}/`);
    await waitEditable(page);
    const id = new URL(page.url()).hash.slice(1);
    assert.equal(await page.inputValue("#share-link"), `${server.url}/#${id}`);
    await page.keyboard.type("under a sub-path", { delay: 5 });
    await settledWith(page, server.url, id, "under a sub-path", "the text under the sub-path");
  });
});

// Read-only links in the browser: an editor protects a document and
// makes a read-only link in the sidebar; a second person opens it in a
// view-only tab, which shows the "View only" badge, follows the editor's
// typing live, cannot type (CodeMirror is read-only, and nothing reaches
// the server), cannot change the language or the protection, and never
// learns the OTP; replacing the link closes the view-only tab with the
// "no longer works" screen.

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  WAIT_MS,
  editorText,
  isSettled,
  launchUser,
  serverText,
  startServer,
  tempDir,
  waitEditable,
  waitUntil,
} from "./harness.mjs";

const STEP = { timeout: 60_000 };

describe("a read-only link", { timeout: 180_000 }, () => {
  const tmp = tempDir("tandem-e2e-ro-");
  const id = "read-only-doc";
  let server;
  let editor;
  let viewer;
  let otp;
  let link;

  before(async () => {
    server = await startServer({ db: path.join(tmp.dir, "tandem.db") });
    editor = await launchUser({ prefs: { name: "Edna", hue: 30, hueChosen: true } });
    viewer = await launchUser({ prefs: { name: "Vic", hue: 210, hueChosen: true } });
  });

  after(async () => {
    await editor?.close();
    await viewer?.close();
    await server?.stop();
    tmp.cleanup();
  });

  it("is made by an editor of a protected document", STEP, async () => {
    const { page } = editor;
    await page.goto(`${server.url}/#${id}`);
    await waitEditable(page);
    // Unprotected: no read-only link yet.
    assert.equal(await page.isDisabled("#view-link-create"), true);
    await page.click(".cm-content");
    await page.keyboard.type("first line", { delay: 5 });
    await page.click("#protect");
    const shared = await waitUntil("the OTP in the share link", async () => {
      const v = await page.inputValue("#share-link");
      return v.includes("?otp=") ? v : null;
    });
    otp = decodeURIComponent(/[?&]otp=([^&]+)/.exec(shared)?.[1] ?? "");
    await waitUntil("the create button enabled", async () => !(await page.isDisabled("#view-link-create")));
    await page.click("#view-link-create");
    link = await waitUntil("the read-only link", async () => {
      const v = await page.inputValue("#view-link");
      return v.includes("?view=") ? v : null;
    });
    assert.ok(link.startsWith(`${server.url}/#${id}?view=`), link);
    assert.ok(!link.includes(otp), "the read-only link does not carry the OTP");
    await waitUntil("the editor settled", () => isSettled(page));
  });

  it("opens view-only: sees live edits, cannot type, never learns the OTP", STEP, async () => {
    const { page } = viewer;
    const sent = [];
    const received = [];
    page.on("websocket", (ws) => {
      ws.on("framesent", (f) => sent.push(String(f.payload)));
      ws.on("framereceived", (f) => received.push(String(f.payload)));
    });
    await page.goto(link);
    await waitUntil("the viewer connected with the text", async () =>
      (await page.evaluate(() => window.__tandem.connected())) && (await editorText(page)) === "first line",
    );
    assert.equal(await page.evaluate(() => window.__tandem.viewOnly()), true);
    assert.equal(await page.locator("#view-only").isVisible(), true);
    assert.equal(await page.locator(".cm-content").getAttribute("contenteditable"), "false");
    assert.equal(await page.isDisabled("#language"), true);
    assert.equal(await page.locator("#protect").isVisible(), false);
    assert.equal(await page.locator("#view-link-section").isVisible(), false);

    // The editor types; the viewer follows.
    await editor.page.click(".cm-content");
    await editor.page.keyboard.press("End");
    await editor.page.keyboard.type("\nsecond line", { delay: 5 });
    await waitUntil("the viewer saw the edit", async () => (await editorText(page)) === "first line\nsecond line");

    // The viewer tries to type: nothing changes, nothing is sent.
    await page.click(".cm-content");
    await page.keyboard.type("XYZ", { delay: 5 });
    await page.keyboard.press("Backspace");
    await page.keyboard.press("Enter");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await editorText(page), "first line\nsecond line");
    assert.equal(await serverText(server.url, id, otp), "first line\nsecond line");
    assert.ok(!sent.some((m) => m.startsWith('{"Edit"')), "the viewer sent an edit");
    // The editor sees the viewer as present, by name.
    await editor.page.locator("#people", { hasText: "Vic" }).waitFor({ timeout: WAIT_MS });

    // No secret of the editors ever reached the viewer.
    assert.ok(received.length > 0);
    assert.ok(received.some((m) => m === '{"ReadOnly":{}}'), "greeting ends with ReadOnly");
    for (const m of received) {
      assert.ok(!m.includes(otp), `the viewer was sent the OTP: ${m}`);
      assert.ok(!m.startsWith('{"OTP"') && !m.startsWith('{"ViewLink"'), m);
    }
    assert.ok(!(await page.inputValue("#share-link")).includes("otp="));
    assert.deepEqual(viewer.errors, []);
  });

  it("stops working when the editor replaces it", STEP, async () => {
    const { page } = editor;
    page.once("dialog", (d) => void d.accept());
    await page.click("#view-link-rotate");
    await waitUntil("a new read-only link", async () => {
      const v = await page.inputValue("#view-link");
      return v.includes("?view=") && v !== link ? v : null;
    });
    await viewer.page
      .locator("#screen-title", { hasText: "This read-only link no longer works" })
      .waitFor({ timeout: WAIT_MS });
    assert.equal(await viewer.page.evaluate(() => window.__tandem.status()), "revoked");
    // Opening the old link again lands on the same screen.
    await viewer.page.reload();
    await viewer.page
      .locator("#screen-title", { hasText: "This read-only link no longer works" })
      .waitFor({ timeout: WAIT_MS });
    assert.deepEqual(editor.errors, []);
  });
});

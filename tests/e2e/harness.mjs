// Shared helpers for the browser end-to-end tests: the real `tandem`
// server binary serving web/dist, and headless Debian Chromium driven by
// playwright-core. Every wait is bounded; servers and browsers are always
// stopped by the caller's `finally`/`after`.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// playwright-core is installed in web/node_modules (web/package.json).
const requireFromWeb = createRequire(path.join(ROOT, "web/package.json"));
const { chromium } = requireFromWeb("playwright-core");

/** Longest single wait in the tests. */
export const WAIT_MS = 15_000;

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SERVER_BIN = process.env.TANDEM_BIN ?? path.join(ROOT, "target/debug/tandem");

/** A free TCP port on 127.0.0.1 (the server is restarted on the same one,
 * so the test picks it rather than letting the server choose). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A temporary directory removed by `cleanup`. */
export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts `tandem` with WEB_DIR=web/dist on `port` (0 = any) and database
 * `db`. Resolves once it prints its address.
 */
export async function startServer({ port = 0, db, env = {} }) {
  const proc = spawn(SERVER_BIN, [], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      BIND_ADDR: "127.0.0.1",
      PORT: String(port),
      SQLITE_URI: db,
      WEB_DIR: path.join(ROOT, "web/dist"),
      RUST_LOG: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error("tandem did not start within the time limit"));
    }, WAIT_MS);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tandem exited (${code}) before listening`));
    });
    proc.stdout.on("data", (chunk) => {
      buf += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ""));
      }
    });
  });
  proc.stdout.resume(); // keep draining so the process never blocks
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    url,
    port: Number(new URL(url).port),
    /** SIGKILL, like a crash or a power loss. */
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      return exited;
    },
    /** SIGTERM, then SIGKILL if it has not exited in time. */
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), WAIT_MS);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
  };
}

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * A browser profile of its own (a separate "person"), with one page.
 * `prefs` are stored before any page script runs (name, hue, …).
 */
export async function launchUser({ prefs, viewport = { width: 1280, height: 800 } } = {}) {
  const { dir, cleanup } = tempDir("tandem-e2e-profile-");
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    timeout: WAIT_MS,
  });
  context.setDefaultTimeout(WAIT_MS);
  if (prefs) {
    await context.addInitScript((p) => {
      if (!localStorage.getItem("tandem:prefs")) localStorage.setItem("tandem:prefs", JSON.stringify(p));
    }, prefs);
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => {});
      cleanup();
    },
  };
}

/** Polls `check` until it returns a truthy value; fails with `what`. */
export async function waitUntil(what, check, timeoutMs = WAIT_MS, intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Waits until the page's editor takes typing. */
export async function waitEditable(page, timeoutMs = WAIT_MS) {
  await page.waitForSelector('.cm-content[contenteditable="true"]', { timeout: timeoutMs });
}

/** The page's editor text. */
export function editorText(page) {
  return page.evaluate(() => window.__tandem.text());
}

/** Connected, caught up, and every local edit acknowledged. */
export function isSettled(page) {
  return page.evaluate(() => window.__tandem.connected() && window.__tandem.synced());
}

/** GET api/text/{id}. */
export async function serverText(base, id, otp) {
  const res = await fetch(`${base}/api/text/${id}${otp ? `?otp=${encodeURIComponent(otp)}` : ""}`);
  if (!res.ok) throw new Error(`GET api/text/${id}: ${res.status}`);
  return res.text();
}

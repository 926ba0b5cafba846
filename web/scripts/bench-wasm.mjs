// Replays a real editing trace through the OT core's WASM module, in Node
// and in headless Chromium, and prints the median time of several runs:
//
//   (a) splice+apply: every patch becomes Operation::splice and is applied
//       to the rope (Text::apply), all inside WASM (`replaySplices`, built
//       with the crate's `bench` feature) — the core's own cost.
//   (b) Doc.localChanges: every patch goes through the editor-facing API
//       as a CodeMirror-style [from, to, insert] change in UTF-16 offsets,
//       and each submission is acknowledged at once (a client whose server
//       answers before the next keystroke) — the per-keystroke cost the
//       editor pays, JS boundary included.
//
// Both check that the final text equals the trace's endContent.
//
//   node web/scripts/bench-wasm.mjs [--runs N] [--trace FILE.json.gz] [--no-build]
//
// Without --no-build it first runs `scripts/build-wasm.sh --bench`, which
// writes target/wasm-bench/pkg. The same file is served to the browser as
// the benchmark module, so Node and Chromium run identical code: nothing
// Node-specific is imported at the top level.

/** Median of a list of numbers. */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The trace's patches as flat typed arrays plus one string of all
 * inserted text, so (a) crosses the JS/WASM boundary once. */
function flatten(trace) {
  const n = trace.txns.reduce((k, t) => k + t.patches.length, 0);
  const positions = new Uint32Array(n);
  const deletes = new Uint32Array(n);
  const insertLens = new Uint32Array(n);
  const inserts = [];
  let i = 0;
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      positions[i] = pos;
      deletes[i] = del;
      let cps = 0;
      for (const _ of ins) cps++; // code points, as the trace counts
      insertLens[i] = cps;
      inserts.push(ins);
      i++;
    }
  }
  return { n, positions, deletes, insertLens, inserts: inserts.join("") };
}

/** True when every string of the trace is BMP-only, so its code point
 * positions are also UTF-16 offsets, which (b) needs. */
function bmpOnly(trace) {
  const astral = /[\ud800-\udfff]/;
  if (astral.test(trace.startContent)) return false;
  return trace.txns.every((t) => t.patches.every((p) => !astral.test(p[2])));
}

/**
 * Runs both measurements. `wasm` is the initialised module's exports,
 * `now` a millisecond clock. The first run of each is a warm-up (the
 * engine tiers the WASM code up while it runs) and is reported apart.
 */
export function benchmark(wasm, trace, runs, now) {
  const { replaySplices, Doc } = wasm;
  const flat = flatten(trace);
  const splice = [];
  for (let r = 0; r <= runs; r++) {
    const t0 = now();
    const text = replaySplices(
      trace.startContent,
      flat.positions,
      flat.deletes,
      flat.inserts,
      flat.insertLens,
    );
    splice.push(now() - t0);
    if (text !== trace.endContent) {
      throw new Error("(a) replaySplices: final text differs from endContent");
    }
  }
  const doc = [];
  const docApplies = bmpOnly(trace);
  for (let r = 0; docApplies && r <= runs; r++) {
    const t0 = now();
    const d = new Doc(trace.startContent, 0);
    try {
      d.identified(1);
      d.resume();
      for (const txn of trace.txns) {
        for (const [pos, del, ins] of txn.patches) {
          const sub = d.localChanges([[pos, pos + del, ins]]);
          if (sub !== undefined) d.receive(1, sub.operation);
        }
      }
      doc.push(now() - t0);
      if (d.text() !== trace.endContent) {
        throw new Error("(b) Doc.localChanges: final text differs from endContent");
      }
    } finally {
      d.free();
    }
  }
  const summary = (xs) =>
    xs.length === 0
      ? null
      : { first: xs[0], median: median(xs.slice(1)), min: Math.min(...xs.slice(1)), runs: xs.slice(1) };
  return { patches: flat.n, splice: summary(splice), doc: summary(doc) };
}

/** Rejects after `ms` unless `promise` settles first. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The page the browser loads: imports this very file and the module. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>tandem ot-wasm bench</title>
<script type="module">
  import init, * as wasm from "/pkg/tandem_ot_wasm.js";
  import { benchmark } from "/bench-wasm.mjs";
  window.runBench = async (runs) => {
    await init({ module_or_path: "/pkg/tandem_ot_wasm_bg.wasm" });
    const trace = await (await fetch("/trace.json")).json();
    return benchmark(wasm, trace, runs, () => performance.now());
  };
  window.benchReady = true;
</script>`;

async function main() {
  const { spawnSync } = await import("node:child_process");
  const fs = await import("node:fs");
  const http = await import("node:http");
  const os = await import("node:os");
  const path = await import("node:path");
  const url = await import("node:url");
  const zlib = await import("node:zlib");

  const here = path.dirname(url.fileURLToPath(import.meta.url));
  const root = path.resolve(here, "../..");
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const runs = Number(opt("--runs", "7"));
  const tracePath = path.resolve(opt("--trace", "/work/shared/traces/automerge-paper.json.gz"));
  const pkg = path.join(root, "target/wasm-bench/pkg");

  if (!args.includes("--no-build")) {
    const built = spawnSync("bash", [path.join(root, "scripts/build-wasm.sh"), "--bench"], {
      stdio: "inherit",
      timeout: 20 * 60 * 1000,
    });
    if (built.status !== 0) throw new Error(`build-wasm.sh --bench failed (${built.status ?? built.signal})`);
  }

  const traceGz = fs.readFileSync(tracePath);
  const trace = JSON.parse(zlib.gunzipSync(traceGz).toString("utf8"));
  const wasmBytes = fs.readFileSync(path.join(pkg, "tandem_ot_wasm_bg.wasm"));
  const gz = zlib.gzipSync(wasmBytes, { level: 9 }).length;
  console.log(`trace ${path.basename(tracePath)}; module ${wasmBytes.length} bytes (${gz} gzipped, with the bench export); ${runs} runs after 1 warm-up`);

  const report = (engine, r) => {
    const fmt = (s) =>
      s === null
        ? "skipped (trace has astral characters)"
        : `median ${s.median.toFixed(1)} ms, min ${s.min.toFixed(1)} ms, warm-up ${s.first.toFixed(1)} ms`;
    console.log(`${engine}: ${r.patches} patches`);
    console.log(`  (a) splice+apply      ${fmt(r.splice)}`);
    console.log(`  (b) Doc.localChanges  ${fmt(r.doc)}`);
  };

  // Node.
  const glue = await import(url.pathToFileURL(path.join(pkg, "tandem_ot_wasm.js")).href);
  glue.initSync({ module: wasmBytes });
  report(`node ${process.version}`, benchmark(glue, trace, runs, () => performance.now()));

  // Chromium, served from 127.0.0.1 on a port the OS picks.
  const types = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".ts": "text/plain" };
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, "http://x").pathname;
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
      res.end(body);
    };
    if (p === "/") return send(200, "text/html", PAGE);
    if (p === "/favicon.ico") return send(204, "image/x-icon", "");
    if (p === "/bench-wasm.mjs") return send(200, "text/javascript", fs.readFileSync(url.fileURLToPath(import.meta.url)));
    // The browser inflates it itself.
    if (p === "/trace.json") return send(200, "application/json", traceGz, { "content-encoding": "gzip" });
    if (p.startsWith("/pkg/")) {
      const file = path.join(pkg, path.normalize(p.slice(5)));
      if (file.startsWith(pkg + path.sep) && fs.existsSync(file)) {
        return send(200, types[path.extname(file)] ?? "application/octet-stream", fs.readFileSync(file));
      }
    }
    send(404, "text/plain", "not found");
  });
  await within(10_000, "http server", new Promise((resolve) => server.listen(0, "127.0.0.1", resolve)));
  const port = server.address().port;

  const { chromium } = await import("playwright-core");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "tandem-bench-"));
  let context;
  try {
    context = await within(
      60_000,
      "chromium launch",
      chromium.launchPersistentContext(profile, {
        executablePath: "/usr/bin/chromium",
        headless: true,
        timeout: 60_000,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      }),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") console.error(`chromium console: ${m.text()}`);
    });
    page.on("pageerror", (e) => console.error(`chromium page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/`, { timeout: 30_000 });
    await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
    const version = await page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? "");
    const result = await within(
      10 * 60_000,
      "benchmark in chromium",
      page.evaluate((n) => window.runBench(n), runs),
    );
    report(`chromium (${version})`, result);
  } finally {
    if (context) await within(30_000, "chromium close", context.close()).catch((e) => console.error(e.message));
    await within(10_000, "http server close", new Promise((resolve) => server.close(resolve))).catch((e) =>
      console.error(e.message),
    );
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// In the browser this file is only a module to import.
if (typeof window === "undefined") {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}

// Prints what a first visit downloads before the editor can be used — the
// HTML and everything it references directly (scripts, module preloads,
// stylesheets, the WASM it compiles) — gzipped at level 9, and fails when
// the total is over the budget. Lazily loaded chunks (languages, Vim) are
// listed apart and not counted.
//
//   node web/scripts/bundle-size.mjs [--budget-kib 250] [--dist web/dist]

import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(opt("--dist", path.join(here, "../dist")));
const budgetKiB = Number(opt("--budget-kib", "250"));

const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

const html = readFileSync(path.join(dist, "index.html"), "utf8");
// src="./…", href="./…" and fetch("./…") — every same-origin file the page
// asks for at load.
const refs = new Set();
for (const m of html.matchAll(/(?:src|href)="\.\/([^"]+)"|fetch\("\.\/([^"]+)"\)/g)) {
  refs.add(m[1] ?? m[2]);
}

const rows = [["index.html", gz(path.join(dist, "index.html"))]];
for (const ref of refs) rows.push([ref, gz(path.join(dist, ref))]);
const total = rows.reduce((s, [, n]) => s + n, 0);

const lazy = readdirSync(path.join(dist, "assets"))
  .map((f) => `assets/${f}`)
  .filter((f) => !refs.has(f) && f.endsWith(".js"));
const lazyTotal = lazy.reduce((s, f) => s + gz(path.join(dist, f)), 0);

console.log("initial download (gzip -9):");
for (const [name, n] of rows) console.log(`  ${kib(n).padStart(10)}  ${name}`);
console.log(`  ${kib(total).padStart(10)}  total (budget ${budgetKiB} KiB)`);
console.log(`lazy chunks, loaded on demand: ${lazy.length} files, ${kib(lazyTotal)} gzipped`);
if (total > budgetKiB * 1024) {
  console.error(`bundle-size: over budget: ${kib(total)} > ${budgetKiB} KiB`);
  process.exit(1);
}

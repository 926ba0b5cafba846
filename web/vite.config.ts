import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

// The OT core's WASM package, built by scripts/build-wasm.sh into
// ot-wasm/pkg (outside this directory, hence the alias and fs.allow).
const wasmPkg = fileURLToPath(new URL("../ot-wasm/pkg/tandem_ot_wasm.js", import.meta.url));

/**
 * Preloads the lazily imported app chunk (the editor and the page's
 * controls, imported by main.ts once it has started connecting) so that it
 * downloads in parallel with the small entry instead of after it.
 */
function preloadApp(): Plugin {
  return {
    name: "tandem-preload-app",
    apply: "build",
    transformIndexHtml: {
      order: "post",
      handler(_html, ctx) {
        const app = Object.values(ctx.bundle ?? {}).find(
          (c) => c.type === "chunk" && c.facadeModuleId?.endsWith("/src/app.ts"),
        );
        if (!app || app.type !== "chunk") return [];
        const files = [app.fileName, ...app.imports.filter((f) => !ctx.chunk || f !== ctx.chunk.fileName)];
        return files.map((f) => ({
          tag: "link",
          attrs: { rel: "modulepreload", crossorigin: "", href: "./" + f },
          injectTo: "head" as const,
        }));
      },
    },
  };
}

/**
 * Starts downloading and compiling the .wasm file from the HTML, before the
 * main script has even arrived: compileStreaming compiles on background
 * threads while the editor's JavaScript downloads and runs, and wasm.ts
 * instantiates the compiled module (falling back to the glue's own fetch
 * if this failed). This takes the WASM off the time-to-editable path.
 */
function compileWasmEarly(): Plugin {
  return {
    name: "tandem-compile-wasm-early",
    apply: "build",
    transformIndexHtml: {
      order: "post",
      handler(_html, ctx) {
        const wasm = Object.keys(ctx.bundle ?? {}).find((f) => f.endsWith(".wasm"));
        if (!wasm) return [];
        const url = JSON.stringify("./" + wasm);
        return [
          {
            tag: "script",
            children:
              `window.__tandemWasm=typeof WebAssembly=="object"&&WebAssembly.compileStreaming` +
              `?WebAssembly.compileStreaming(fetch(${url})).catch(function(){return null})` +
              `:Promise.resolve(null);`,
            injectTo: "head-prepend",
          },
        ];
      },
    },
  };
}

/** Names lazy chunks after the package (or legacy mode) they hold, so the
 * build output and the network panel say what each file is. */
function chunkName(chunk: { name: string; facadeModuleId: string | null; moduleIds: string[] }): string {
  // The chunk shared by the app and the lazy languages: CodeMirror's core.
  if (!chunk.facadeModuleId && chunk.moduleIds.some((m) => m.includes("@codemirror/view/"))) return "codemirror";
  const id = chunk.facadeModuleId ?? chunk.moduleIds[chunk.moduleIds.length - 1] ?? "";
  const mode = /legacy-modes\/mode\/([^/.]+)/.exec(id);
  if (mode?.[1]) return `mode-${mode[1]}`;
  const pkg = /node_modules\/(?:@([^/]+)\/)?([^/]+)/.exec(id);
  if (pkg?.[2]) return pkg[1] && pkg[1] !== "codemirror" ? `${pkg[1]}-${pkg[2]}` : pkg[2];
  return chunk.name;
}

export default defineConfig({
  // Relative asset URLs, so the built files work under any sub-path
  // (the server's BASE_PATH) without rebuilding.
  base: "./",
  plugins: [compileWasmEarly(), preloadApp()],
  resolve: { alias: { "tandem-ot-wasm": wasmPkg } },
  server: { fs: { allow: [".."] } },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    // The WASM file is fetched by URL (streaming compilation), never inlined.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        chunkFileNames: (chunk) => `assets/${chunkName(chunk)}-[hash].js`,
      },
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
  },
});

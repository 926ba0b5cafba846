// The OT core (ot-wasm), loaded once. Its .wasm file is fetched and
// compiled while the page connects: nothing needs a Doc before the
// server's first message arrives.

import init, { Doc } from "tandem-ot-wasm";

export { Doc };
export type { Submission, ReceiveResult, RemoteChange, LocalChange } from "tandem-ot-wasm";

declare global {
  interface Window {
    /** The module compiled by index.html's inline script (see
     * vite.config.ts); null if that failed, absent in development. */
    __tandemWasm?: Promise<WebAssembly.Module | null>;
  }
}

let ready: Promise<void> | null = null;

export function loadWasm(): Promise<void> {
  return (ready ??= (async () => {
    const early = await (window.__tandemWasm ?? Promise.resolve(null));
    await init(early ? { module_or_path: early } : undefined);
  })());
}

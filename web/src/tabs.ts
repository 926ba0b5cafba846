// Keeps two tabs from sharing one client identity.
//
// The identity lives in sessionStorage, which browsers copy into a
// duplicated tab ("Duplicate tab", or opening a link in a new tab in some
// browsers). Two live tabs with one identity would keep replacing each
// other's connection (close code 4000). So every tab answers on a
// BroadcastChannel for the key it uses, and a tab that restored its key
// from sessionStorage asks first: if someone answers, it takes a new key.
// A reload asks too and gets no answer, since the old page is gone.

const CHANNEL = "tandem-identity";

type Msg = { type: "ask" | "taken"; key: string };

/** Answers "is this key in use?" for `key` until `release` is called. */
export function holdKey(key: () => string): () => void {
  if (typeof BroadcastChannel === "undefined") return () => {};
  const ch = new BroadcastChannel(CHANNEL);
  ch.onmessage = (e: MessageEvent<Msg>) => {
    if (e.data?.type === "ask" && e.data.key === key()) {
      ch.postMessage({ type: "taken", key: e.data.key } satisfies Msg);
    }
  };
  return () => ch.close();
}

/** Resolves true if another live tab holds `key`, within `waitMs`. */
export function isKeyTaken(key: string, waitMs = 80): Promise<boolean> {
  if (typeof BroadcastChannel === "undefined") return Promise.resolve(false);
  return new Promise((resolve) => {
    const ch = new BroadcastChannel(CHANNEL);
    const done = (taken: boolean) => {
      clearTimeout(timer);
      ch.close();
      resolve(taken);
    };
    const timer = setTimeout(() => done(false), waitMs);
    ch.onmessage = (e: MessageEvent<Msg>) => {
      if (e.data?.type === "taken" && e.data.key === key) done(true);
    };
    ch.postMessage({ type: "ask", key } satisfies Msg);
  });
}

// From an address in the hash to a connected Session: new ids for "/",
// this tab's identity for the document, and the duplicate-tab check.
// Used by main.ts at load (before the editor's code has even arrived) and
// by app.ts when the hash changes.

import { newDocumentId, parseHash, type DocAddress } from "./link";
import type { UserInfo } from "./protocol";
import { Session } from "./session";
import { clientKey, newClientKey, type Preferences } from "./storage";
import { holdKey, isKeyTaken } from "./tabs";
import { cleanName } from "./users";

export type Route =
  | { kind: "invalid" }
  | { kind: "open"; addr: DocAddress; session: Promise<Session> };

/** This tab's identity for the open document, answered for on the
 * BroadcastChannel so that a duplicated tab picks another (tabs.ts). */
let currentKey = "";
holdKey(() => currentKey);

let opened = 0;

/** What this tab sends as its name and colour. */
export function infoFromPrefs(prefs: Preferences): UserInfo {
  return { name: cleanName(prefs.name) || "Anonymous", hue: prefs.hue };
}

/**
 * Reads `hash` and starts opening what it names. An empty hash starts a
 * new document with an unguessable id, put in the address bar without a
 * new history entry.
 */
export function route(hash: string, prefs: Preferences): Route {
  const addr = parseHash(hash);
  if (!addr) {
    if (hash.length > 1) return { kind: "invalid" };
    const id = newDocumentId();
    history.replaceState(null, "", "#" + id);
    return open({ id, otp: null }, true, prefs);
  }
  return open(addr, false, prefs);
}

function open(addr: DocAddress, createdHere: boolean, prefs: Preferences): Route {
  const first = ++opened === 1;
  const session = (async () => {
    let { key, restored } = clientKey(addr.id);
    if (restored && first && mayBeDuplicate() && (await isKeyTaken(key))) key = newClientKey(addr.id);
    currentKey = key;
    return new Session({
      addr: { ...addr },
      clientKey: key,
      info: () => infoFromPrefs(prefs),
      hueIsAutomatic: () => !prefs.hueChosen,
      createdHere,
      base: document.baseURI,
    });
  })();
  return { kind: "open", addr, session };
}

/**
 * Whether this page may share its sessionStorage with a live tab: browsers
 * copy it into a duplicated tab (which loads as a history navigation) and
 * into a window opened by script (which has an opener). A reload or an
 * ordinary navigation cannot collide — the old page is gone — so they skip
 * the (up to 80 ms) check.
 */
function mayBeDuplicate(): boolean {
  const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
  return nav?.type === "back_forward" || window.opener !== null;
}

// Document addresses: the `#id[?otp=…]` (or read-only `#id?view=…`) hash,
// share links, new ids and the socket/API URLs. All URLs are relative to
// the page, so the editor works unchanged under a sub-path (the server's
// BASE_PATH).

/** What the hash names: a document id and, for protected ones, its OTP —
 * or, for a read-only link, its view secret (then `otp` is null). */
export interface DocAddress {
  id: string;
  otp: string | null;
  /** The view secret of a read-only link; absent or null for editors. */
  view?: string | null;
}

/** Whether `addr` opens its document read-only. */
export function isViewOnly(addr: DocAddress): boolean {
  return addr.view != null;
}

/** The characters the server accepts in ids (docs/protocol.md). */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Length of new document ids: 12 × 6 bits = 72 random bits. */
export const NEW_ID_LENGTH = 12;
/** Length of client identity keys: 22 × 6 bits = 132 random bits. */
export const CLIENT_KEY_LENGTH = 22;

export type RandomBytes = (bytes: Uint8Array) => Uint8Array;

const cryptoRandom: RandomBytes = (b) => crypto.getRandomValues(b);

/** A random string over the URL-safe alphabet. 64 symbols divide 256, so
 * masking a byte gives each symbol with equal probability. */
export function randomToken(length: number, random: RandomBytes = cryptoRandom): string {
  const bytes = random(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += URL_SAFE[b & 63];
  return out;
}

export function newDocumentId(random?: RandomBytes): string {
  return randomToken(NEW_ID_LENGTH, random);
}

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/**
 * Parses `location.hash`: `#id`, `#id?otp=…` or `#id?view=…` (a read-only
 * link; `view` wins over `otp`, as on the server). Returns null for an
 * empty hash or an id the server would refuse (the caller then starts a
 * new document or says so).
 */
export function parseHash(hash: string): DocAddress | null {
  const raw = hash.startsWith("#") ? hash.slice(1) : hash;
  if (raw === "") return null;
  const q = raw.indexOf("?");
  let id = q < 0 ? raw : raw.slice(0, q);
  try {
    id = decodeURIComponent(id);
  } catch {
    return null;
  }
  if (!isValidId(id)) return null;
  const params = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const view = params.get("view");
  if (view !== null) return { id, otp: null, view };
  const otp = params.get("otp");
  return { id, otp: otp === null || otp === "" ? null : otp };
}

/** The query that opens `addr`: `?view=…`, `?otp=…` or nothing. */
function secretQuery(addr: DocAddress): string {
  if (addr.view != null) return "?view=" + encodeURIComponent(addr.view);
  return addr.otp ? "?otp=" + encodeURIComponent(addr.otp) : "";
}

/** The hash for an address, with its leading `#`. */
export function formatHash(addr: DocAddress): string {
  return "#" + addr.id + secretQuery(addr);
}

/** The link to share: this page (origin + path, so a sub-path is kept)
 * with the document's hash. */
export function shareLink(loc: Pick<Location, "origin" | "pathname">, addr: DocAddress): string {
  return loc.origin + loc.pathname + formatHash(addr);
}

/** The read-only link to document `id` with view secret `view`. */
export function viewLink(loc: Pick<Location, "origin" | "pathname">, id: string, view: string): string {
  return shareLink(loc, { id, otp: null, view });
}

/** `api/socket/{id}` resolved against the page, as ws:// or wss://. */
export function socketUrl(base: string, addr: DocAddress): string {
  const url = new URL("api/socket/" + encodeURIComponent(addr.id) + secretQuery(addr), base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  return url.href;
}

/** `api/text/{id}` resolved against the page. */
export function textUrl(base: string, addr: DocAddress): string {
  const url = new URL("api/text/" + encodeURIComponent(addr.id) + secretQuery(addr), base);
  url.hash = "";
  return url.href;
}

/** What was typed into the OTP box: the OTP itself, or a pasted full link
 * (or hash) containing `otp=…`. */
export function otpFromInput(value: string): string {
  const v = value.trim();
  const m = /[?&]otp=([^&#\s]+)/.exec(v);
  if (!m?.[1]) return v;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

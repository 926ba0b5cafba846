// One WebSocket to the server, and what a close means.
//
// The socket itself is a thin typed wrapper; the policy (reconnect or not,
// resync or not) is decided by `closeAction` from the close code, and
// `probe` tells apart the reasons a socket could not even open — the
// WebSocket API hides the HTTP status of a refused upgrade.

import { Close, decode, encode, type ClientMessage, type ServerMessage } from "./protocol";
import { textUrl, type DocAddress } from "./link";

export interface SocketEvents {
  open(): void;
  message(msg: ServerMessage): void;
  /** A frame that did not decode (a server bug): the session resyncs. */
  invalid(error: Error): void;
  close(code: number, reason: string, wasOpen: boolean): void;
}

/** The socket index.html opened before any module ran. */
interface EarlySocket {
  url: string;
  ws: WebSocket;
  opened: boolean;
  closed: CloseEvent | null;
}

declare global {
  interface Window {
    __tandemSocket?: EarlySocket;
  }
}

/** Takes index.html's early socket if it is for `url` (once). */
function takeEarlySocket(url: string): EarlySocket | null {
  const early = window.__tandemSocket;
  if (!early || early.url !== url) return null;
  delete window.__tandemSocket;
  return early;
}

/** Closes index.html's early socket if nobody took it (say, the hash named
 * a document that then was not opened). */
export function discardEarlySocket(): void {
  const early = window.__tandemSocket;
  delete window.__tandemSocket;
  early?.ws.close();
}

export class Connection {
  private readonly ws: WebSocket;
  private opened = false;
  private closed = false;

  constructor(url: string, events: SocketEvents) {
    const early = takeEarlySocket(url);
    this.ws = early?.ws ?? new WebSocket(url);
    this.ws.onopen = () => {
      this.opened = true;
      events.open();
    };
    this.ws.onmessage = (e: MessageEvent) => {
      if (this.closed) return;
      if (typeof e.data !== "string") return; // the protocol has text frames only
      let msg: ServerMessage;
      try {
        msg = decode(e.data);
      } catch (err) {
        events.invalid(err as Error);
        return;
      }
      events.message(msg);
    };
    this.ws.onclose = (e: CloseEvent) => {
      if (this.closed) return;
      this.closed = true;
      events.close(e.code, e.reason, this.opened);
    };
    // An error is always followed by a close event, which carries what
    // little the browser tells us; nothing to do here.
    this.ws.onerror = () => {};
    // An early socket may already have opened or closed: replay that, after
    // the caller has stored this connection.
    if (early?.closed) {
      const e = early.closed;
      queueMicrotask(() => this.ws.onclose?.call(this.ws, e));
    } else if (early?.opened) {
      queueMicrotask(() => this.ws.onopen?.call(this.ws, new Event("open")));
    }
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a message; false if the socket is not open (the Doc keeps
   * unsent edits and resends them after the reconnect). */
  send(msg: ClientMessage): boolean {
    if (!this.isOpen) return false;
    this.ws.send(encode(msg));
    return true;
  }

  /** Closes without reporting a close event (we chose to leave). */
  close(code: number = Close.Normal, reason = "bye"): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.close();
    }
  }
}

/** What the session does after a close. */
export type CloseAction =
  /** Reconnect with backoff, continuing from the Doc's revision. */
  | "retry"
  /** Reconnect, but as a fresh join: the server and this tab disagree
   * (a bug on one side); rebuild from a snapshot, keeping the local text. */
  | "resync"
  /** The edit was refused for its size: keep the text, stop syncing. */
  | "too-large"
  /** Another connection with this identity took over. */
  | "replaced"
  /** The OTP changed. */
  | "unauthorized"
  /** The read-only link this viewer used was replaced or removed. */
  | "revoked";

export function closeAction(code: number): CloseAction {
  switch (code) {
    case Close.Replaced:
      return "replaced";
    case Close.Unauthorized:
      return "unauthorized";
    case Close.ViewRevoked:
      return "revoked";
    case Close.DocumentTooLarge:
    case Close.MessageTooLarge:
      return "too-large";
    case Close.Malformed:
    case Close.DoesNotApply:
      return "resync";
    default:
      // 1000/1001, 1006 (dropped), 1011 (server bug: its state is fine),
      // 1012 (restarting), 4408 (timeout), 4409 (out of range: the
      // catch-up brings a snapshot) and anything unknown.
      return "retry";
  }
}

/** Why a socket could not be opened, learnt over plain HTTP. */
export type ProbeResult =
  | { kind: "ok" }
  | { kind: "unauthorized" }
  | { kind: "invalid"; message: string }
  | { kind: "unavailable"; message: string }
  | { kind: "unreachable"; message: string };

/**
 * Asks `HEAD api/text/{id}` what the socket upgrade would have been told:
 * the same checks (id, OTP or view secret) guard both. Bounded by a
 * timeout.
 */
export async function probe(base: string, addr: DocAddress, timeoutMs = 5000): Promise<ProbeResult> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    // HEAD: the server runs the upgrade's checks without sending the text.
    const res = await fetch(textUrl(base, addr), { method: "HEAD", cache: "no-store", signal: ctrl.signal });
    if (res.ok) return { kind: "ok" };
    const body = (await res.text().catch(() => "")).trim();
    if (res.status === 401) return { kind: "unauthorized" };
    if (res.status === 400) return { kind: "invalid", message: body || "invalid document id" };
    return { kind: "unavailable", message: body || `HTTP ${res.status}` };
  } catch {
    return { kind: "unreachable", message: "server unreachable" };
  } finally {
    clearTimeout(timer);
  }
}

/** A short human phrase for a close, from its reason or its code. */
export function describeClose(code: number, reason: string): string {
  if (reason) return reason;
  switch (code) {
    case Close.Abnormal:
      return "connection lost";
    case Close.Restarting:
      return "server restarting";
    case Close.Internal:
      return "server error";
    case Close.Timeout:
      return "timed out";
    default:
      return `connection closed (${code})`;
  }
}

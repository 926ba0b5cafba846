// One open document: the OT replica (Doc), the editor, and the connection
// that keeps them in step with the server — joining, catching up after a
// reconnect, rebasing onto snapshots, and what to do on every close code.
//
// Invariant: while `doc` is set, the editor's text equals `doc.text()`.
// Local edits go editor → Doc (Doc.localChanges), remote edits Doc →
// editor (Doc.receive), each synchronously, so the two never drift. When
// they cannot be kept equal (a refused edit, a bug), the Doc is dropped and
// rebuilt from a server snapshot with the editor's text on top (rebase.ts):
// the editor's text is what the user sees and is never thrown away.

import { Backoff } from "./backoff";
import { Connection, closeAction, describeClose, probe } from "./connection";
import type { Editor, LocalChange } from "./editor";
import { isViewOnly, socketUrl, type DocAddress } from "./link";
import { diffChanges, wellFormed } from "./rebase";
import { Close, isLanguage, type Language, type ServerMessage, type UserInfo } from "./protocol";
import { Roster, hueCollides, pickHue } from "./users";
import { Doc, loadWasm, type Submission } from "./wasm";

export type Status =
  | { kind: "connecting" }
  | { kind: "connected" }
  /** Not connected; the next attempt is at `retryAt` (ms since epoch). */
  | { kind: "waiting"; retryAt: number; reason: string; offline: boolean; everConnected: boolean }
  /** The server wants an OTP (missing, wrong, or changed). */
  | { kind: "protected"; triedOtp: boolean }
  | { kind: "invalid"; message: string }
  /** Another connection of this tab's identity took over. */
  | { kind: "replaced" }
  /** The last edit was refused for its size; syncing is paused. */
  | { kind: "too-large"; message: string; limitBytes: number | null }
  /** This read-only link does not open the document (any more): it was
   * replaced or removed, or never was valid. */
  | { kind: "revoked"; reason: string };

export interface SessionEvents {
  status(s: Status): void;
  /** Whether every local edit has been acknowledged. */
  synced(yes: boolean): void;
  language(name: Language, by: string | null): void;
  /** The document's OTP; `changed` is false for the greeting's report of
   * a protection that was already known. */
  otp(otp: string | null, by: string | null, changed: boolean): void;
  /** The read-only link's view secret (editors only; null: none);
   * `changed` is false for what the greeting reports. */
  viewLink(secret: string | null, by: string | null, changed: boolean): void;
  /** A message to show briefly. */
  notice(text: string): void;
  /** The editor became editable for the first time (time-to-editable). */
  editable(): void;
  /** Our own colour was changed to stand apart from someone else's. */
  hueChanged(hue: number): void;
}

export interface SessionOptions {
  addr: DocAddress;
  /** This tab's identity for the document. */
  clientKey: string;
  info: () => UserInfo;
  /** May our hue be changed when it collides with someone's? */
  hueIsAutomatic: () => boolean;
  /** The document id was just made up here, so nobody else has it yet:
   * the editor can take typing before the server answers. */
  createdHere: boolean;
  /** Base URL for the socket and API (the page's). */
  base: string;
}

/** How often our cursor may be sent (≤ 20 per second). */
const CURSOR_INTERVAL_MS = 50;
/** UserInfo messages this soon after joining are the greeting; we adjust
 * our colour against them (people who join later adjust theirs). */
const GREETING_WINDOW_MS = 2000;

export class Session {
  readonly roster = new Roster();
  /** The replica; null before the first snapshot and while paused. */
  private doc: Doc | null = null;
  private socket: Connection | null = null;
  /** Between open and the catch-up (first History or Snapshot). */
  private catchingUp = false;
  /** Our user id in this document. */
  private user: number | null = null;
  /** Next Hello asks for a snapshot (revision null) instead of history. */
  private freshJoin = true;
  /** On the next snapshot, replace the editor's text instead of keeping it. */
  private discardLocal = false;
  /** Sequence numbers used by a dropped Doc (never reuse one). */
  private usedSeq = 0;
  private paused: { limitBytes: number | null } | null = null;
  /** The Doc no longer mirrors the editor (see `bug`): local edits stay in
   * the editor until the next snapshot rebases them. */
  private diverged = false;
  /** The document epoch of `doc`'s revision (from the last Snapshot),
   * sent back with Hello: revisions of another epoch get a snapshot. */
  private epoch = "";
  private pauseCheck: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff = new Backoff();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private cursorTimer: ReturnType<typeof setTimeout> | null = null;
  private lastCursorSent = 0;
  private joinedAt = 0;
  private everConnected = false;
  private wasEditable = false;
  private wasmReady = false;
  private queued: ServerMessage[] = [];
  private disposed = false;
  private lastSynced = true;
  private viewSecretNow: string | null = null;
  /** Within a greeting (Identity … OTP): whether it named a read-only
   * link (a greeting without one means there is none). */
  private greeting: { sawViewLink: boolean } | null = null;
  language: Language = "plaintext";
  private readonly o: SessionOptions;
  /** Set by `listen`: the page's UI. */
  private events: SessionEvents | null = null;
  private statusNow: Status = { kind: "connecting" };
  private notices: string[] = [];
  /** Set by `attach`; messages wait in `queued` until it and the WASM
   * module are there. */
  private editorOrNull: Editor | null = null;

  /**
   * Connects at once: the socket handshake and the server's greeting then
   * overlap with building the editor, which is attached afterwards.
   */
  constructor(opts: SessionOptions) {
    this.o = opts;
    void loadWasm().then(
      () => {
        performance.mark("tandem:wasm");
        this.wasmReady = true;
        this.maybeReady();
      },
      (e) => this.notice(`The editor could not start: ${String(e)}`),
    );
    this.connect();
  }

  /** Where to report what happens. The current status is reported at
   * once: the session may have started before the UI existed. */
  listen(events: SessionEvents): void {
    this.events = events;
    events.status(this.statusNow);
    events.synced(this.lastSynced);
    for (const n of this.notices.splice(0)) events.notice(n);
  }

  get status(): Status {
    return this.statusNow;
  }

  private setStatus(s: Status): void {
    this.statusNow = s;
    this.events?.status(s);
  }

  private notice(text: string): void {
    if (this.events) this.events.notice(text);
    else this.notices.push(text);
  }

  /** The editor this session keeps in step with the server. */
  attach(editor: Editor): void {
    performance.mark("tandem:editor");
    this.editorOrNull = editor;
    this.maybeReady();
  }

  private get editor(): Editor {
    if (!this.editorOrNull) throw new Error("no editor attached");
    return this.editorOrNull;
  }

  private get ready(): boolean {
    return this.wasmReady && this.editorOrNull !== null;
  }

  get addr(): DocAddress {
    return this.o.addr;
  }

  /** Opened with a read-only link: the editor never takes typing. */
  get viewOnly(): boolean {
    return isViewOnly(this.o.addr);
  }

  /** The read-only link's view secret, as far as this editor knows. */
  get viewSecret(): string | null {
    return this.viewSecretNow;
  }


  /** True when nothing local is waiting for the server. */
  get isSynchronized(): boolean {
    return this.paused === null && (this.doc?.isSynchronized ?? true);
  }

  /** True once the editor takes typing (after the first snapshot). */
  get isEditable(): boolean {
    return this.wasEditable;
  }

  get isConnected(): boolean {
    return this.socket?.isOpen === true && !this.catchingUp;
  }

  // --- the editor's side ---

  /** A local edit from the editor (see Editor's update listener). */
  localChanges(changes: LocalChange[]): void {
    if (this.viewOnly) return; // the editor is read-only; the server would refuse
    if (this.paused) {
      this.schedulePauseCheck();
      return;
    }
    if (this.diverged) return;
    const doc = this.doc;
    if (!doc) return; // read-only until the first snapshot
    let sub: Submission | undefined;
    try {
      sub = doc.localChanges(changes);
    } catch (e) {
      // The Doc refused what the editor did: they no longer agree.
      this.bug(`a local edit could not be recorded (${String(e)})`);
      return;
    }
    if (sub) this.sendEdit(sub);
    this.reportSynced();
  }

  /** The local selection changed: tell the others (throttled). */
  selectionChanged(): void {
    if (!this.isConnected) return;
    const wait = this.lastCursorSent + CURSOR_INTERVAL_MS - Date.now();
    if (wait <= 0) this.sendCursor();
    else this.cursorTimer ??= setTimeout(() => {
      this.cursorTimer = null;
      this.sendCursor();
    }, wait);
  }

  // --- the UI's side ---

  setLanguage(name: Language): boolean {
    if (this.viewOnly) return false;
    return this.socket?.send({ type: "setLanguage", language: name }) ?? false;
  }

  setProtection(enabled: boolean): boolean {
    if (this.viewOnly) return false;
    return this.socket?.send({ type: "setOtp", enabled }) ?? false;
  }

  /** Makes a new read-only link (replacing any), or removes it. */
  setViewLink(enabled: boolean): boolean {
    if (this.viewOnly) return false;
    return this.socket?.send({ type: "setViewLink", enabled }) ?? false;
  }

  /** Our name or colour changed. */
  infoChanged(): void {
    if (this.isConnected) this.socket?.send({ type: "clientInfo", info: this.o.info() });
  }

  /** Connect now instead of waiting (the "Retry now" button, the browser
   * coming back online, a new OTP, "use it here" after a takeover). */
  retryNow(): void {
    if (this.disposed || this.socket) return;
    if (this.paused) return this.resumeFromPause(false);
    this.connect();
  }

  /** A new OTP typed on the protected screen. */
  useOtp(otp: string): void {
    this.o.addr.otp = otp;
    this.socket?.close();
    this.socket = null;
    this.retryNow();
  }

  /** Leave paused mode: sync the editor's text as it is now (`discard`
   * false) or throw away what the server refused (`discard` true). */
  resumeFromPause(discard: boolean): void {
    if (!this.paused || this.disposed) return;
    this.paused = null;
    this.discardLocal = discard;
    this.freshJoin = true;
    if (this.pauseCheck) clearTimeout(this.pauseCheck);
    this.pauseCheck = null;
    this.connect();
  }

  dispose(): void {
    this.disposed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.cursorTimer) clearTimeout(this.cursorTimer);
    if (this.pauseCheck) clearTimeout(this.pauseCheck);
    this.socket?.close();
    this.socket = null;
    this.doc?.free();
    this.doc = null;
  }

  // --- connection lifecycle ---

  private connect(): void {
    if (this.disposed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setStatus({ kind: "connecting" });
    const socket = new Connection(socketUrl(this.o.base, this.o.addr), {
      open: () => this.opened(socket),
      message: (m) => this.received(m),
      invalid: (e) => this.bug(e.message),
      close: (code, reason, wasOpen) => this.closed(socket, code, reason, wasOpen),
    });
    this.socket = socket;
  }

  private opened(socket: Connection): void {
    // Marks (like "tandem:ready" and "tandem:editable") show up in the
    // browser's performance timeline: how long startup took, and where.
    performance.mark("tandem:socket-open");
    this.catchingUp = true;
    const revision = this.freshJoin || !this.doc ? null : this.doc.revision;
    socket.send({
      type: "hello",
      client: this.o.clientKey,
      revision,
      epoch: this.epoch,
      info: this.o.info(),
    });
  }

  private closed(socket: Connection, code: number, reason: string, wasOpen: boolean): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.catchingUp = false;
    this.doc?.disconnected();
    this.editorOrNull?.clearRemoteCursors();
    this.roster.clear();
    if (this.disposed) return;
    switch (closeAction(code)) {
      case "replaced":
        return this.setStatus({ kind: "replaced" });
      case "unauthorized":
        return this.unauthorized();
      case "revoked":
        return this.setStatus({ kind: "revoked", reason: describeClose(code, reason) });
      case "too-large":
        return this.pause(describeClose(code, reason));
      case "resync":
        this.freshJoin = true;
        return this.retryLater(describeClose(code, reason));
      case "retry":
        if (wasOpen) return this.retryLater(describeClose(code, reason));
        // The socket never opened: the browser does not say why, so ask.
        void probe(this.o.base, this.o.addr).then((p) => {
          if (this.disposed || this.socket) return;
          switch (p.kind) {
            case "unauthorized":
              return this.unauthorized();
            case "invalid":
              return this.setStatus({ kind: "invalid", message: p.message });
            case "ok":
              return this.retryLater("could not open a WebSocket");
            default:
              return this.retryLater(p.message);
          }
        });
    }
  }

  /** The server refused our secret: ask for an OTP, or, with a read-only
   * link, say that it no longer works. */
  private unauthorized(): void {
    if (this.viewOnly) {
      return this.setStatus({ kind: "revoked", reason: "this read-only link is not valid (any more)" });
    }
    this.setStatus({ kind: "protected", triedOtp: this.o.addr.otp !== null });
  }

  private retryLater(reason: string): void {
    if (this.disposed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const delay = this.backoff.next();
    const retryAt = Date.now() + delay;
    const offline = typeof navigator !== "undefined" && navigator.onLine === false;
    this.setStatus({ kind: "waiting", retryAt, reason, offline, everConnected: this.everConnected });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // --- messages ---

  private maybeReady(): void {
    if (!this.ready) return;
    performance.mark("tandem:ready");
    if (this.o.createdHere && !this.doc && !this.paused) {
      // A new document: start typing at once; the server's (empty)
      // snapshot is rebased under whatever was typed meanwhile.
      this.doc = new Doc("", 0);
      this.becomeEditable();
    }
    const queued = this.queued;
    this.queued = [];
    for (const m of queued) this.received(m);
  }

  private received(m: ServerMessage): void {
    if (this.disposed) return;
    if (!this.ready) {
      this.queued.push(m);
      return;
    }
    try {
      this.handle(m);
    } catch (e) {
      this.bug(`could not apply a server message (${String(e)})`);
    }
  }

  private handle(m: ServerMessage): void {
    switch (m.type) {
      case "identity":
        this.greeting = { sawViewLink: false };
        this.user = m.user;
        this.roster.me = m.user;
        this.doc?.identified(m.user);
        return;
      case "snapshot":
        this.epoch = m.epoch;
        return this.snapshot(m.text, m.revision, m.lastSeq);
      case "history":
        return this.history(m.start, m.operations);
      case "language": {
        if (!isLanguage(m.language)) return;
        this.language = m.language;
        void this.editor.setLanguage(m.language);
        const by = m.userId !== null && m.userId !== this.user ? m.userName : null;
        this.events?.language(m.language, by);
        return;
      }
      case "userInfo":
        this.roster.set(m.id, m.info);
        if (m.info) this.editor.setRemoteUser(m.id, m.info.name, m.info.hue);
        else this.editor.removeRemoteCursor(m.id);
        if (m.info && Date.now() - this.joinedAt < GREETING_WINDOW_MS) this.avoidHueCollision();
        return;
      case "userCursor": {
        const doc = this.doc;
        if (!doc || m.id === this.user) return;
        // Server positions (code points, at the revision of the last
        // History, which the Doc has folded in) → local UTF-16 offsets.
        const toLocal = (i: number) => doc.remoteIndexToLocal(i);
        try {
          this.editor.setRemoteCursor(
            m.id,
            m.cursors.map(toLocal),
            m.selections.map(([a, b]): [number, number] => [toLocal(a), toLocal(b)]),
          );
        } catch {
          // A position past the end: drop this cursor update, not the doc.
        }
        return;
      }
      case "otp": {
        const changed = this.o.addr.otp !== m.otp;
        this.o.addr.otp = m.otp;
        const by = m.userId !== null && m.userId !== this.user ? m.userName : null;
        this.events?.otp(m.otp, by, changed);
        // The greeting ends with OTP; one that named no read-only link
        // means there is none (it may have gone while we were away).
        if (this.greeting && !this.greeting.sawViewLink && this.viewSecretNow !== null) {
          this.viewSecretNow = null;
          this.events?.viewLink(null, null, true);
        }
        this.greeting = null;
        return;
      }
      case "viewLink": {
        if (this.greeting) this.greeting.sawViewLink = true;
        const changed = this.viewSecretNow !== m.secret;
        this.viewSecretNow = m.secret;
        const by = m.userId !== null && m.userId !== this.user ? m.userName : null;
        this.events?.viewLink(m.secret, by, changed && this.greeting === null);
        return;
      }
      case "readOnly":
        // Ends a viewer's greeting; the editor was never made editable.
        this.greeting = null;
        return;
      case "error":
        if (m.code === "read_only") {
          this.notice("This is a read-only link: you can follow the document, not change it.");
        } else if (m.code === "duplicate_edit") {
          // The server will never acknowledge that edit: start over from
          // its state, keeping the text.
          this.bug(m.message || "duplicate edit");
        } else {
          this.notice(`The server refused a request: ${m.message || m.code}`);
        }
        return;
      case "unknown":
        return;
    }
  }

  /** The catch-up of a fresh join, or a snapshot instead of history. */
  private snapshot(text: string, revision: number, lastSeq: number): void {
    const old = this.doc;
    if (old && !this.diverged && !this.discardLocal) {
      // The Doc knows the server text its pending edits are based on:
      // rebase them onto the snapshot (acknowledged ones are not applied
      // twice, others' edits are not undone; see Doc.rebase).
      let changes;
      try {
        changes = old.rebase(text, revision, lastSeq);
      } catch (e) {
        return this.bug(`snapshot rebase: ${(e as Error).message}`);
      }
      if (this.user !== null) old.identified(this.user);
      this.editor.applyRemote([changes]);
      return this.snapshotTaken(old);
    }
    const nextSeq = Math.max(old?.nextSeq ?? 1, this.usedSeq + 1, lastSeq + 1);
    const doc = Doc.withNextSeq(text, revision, nextSeq);
    if (this.user !== null) doc.identified(this.user);
    const editor = this.editor;
    if ((!old && !this.wasEditable) || this.discardLocal) {
      // First load (the editor is still empty and read-only), or the user
      // chose to drop what the server refused.
      editor.replaceAll(text);
    } else {
      // Keep the editor's text and submit its difference from the
      // snapshot as one edit (see rebase.ts for why, and the trade-off).
      let local = editor.text();
      const clean = wellFormed(local);
      if (clean !== local) {
        editor.replaceAll(clean);
        local = clean;
      }
      const changes = diffChanges(text, local);
      if (changes.length > 0) doc.localChanges(changes);
    }
    old?.free();
    this.doc = doc;
    this.diverged = false;
    this.discardLocal = false;
    this.snapshotTaken(doc);
  }

  /** After a snapshot: finish the catch-up, or (the protocol sends
   * snapshots only as the catch-up; should one come later) go online. */
  private snapshotTaken(doc: Doc): void {
    this.freshJoin = false;
    if (this.catchingUp) return this.caughtUp();
    const sub = doc.resume();
    if (sub) this.sendEdit(sub);
    this.reportSynced();
  }

  private history(start: number, entries: { id: number; operation: (number | string)[] }[]): void {
    const doc = this.doc;
    if (!doc) return this.bug("history before a snapshot");
    if (start !== doc.revision) {
      return this.bug(`history starts at ${start}, expected ${doc.revision}`);
    }
    const batches: { from: number; to: number; insert: string }[][] = [];
    let toSend: Submission | undefined;
    try {
      for (const e of entries) {
        const r = doc.receive(e.id, e.operation);
        if (r.kind === "ack") toSend = r.next ?? toSend;
        else batches.push(r.changes);
      }
    } finally {
      // Whatever the Doc took must reach the editor, even if a later
      // entry failed (the failure then resyncs).
      this.editor.applyRemote(batches);
    }
    if (this.catchingUp) return this.caughtUp();
    if (toSend) this.sendEdit(toSend);
    this.reportSynced();
  }

  /** The catch-up is processed: go online and resend what is pending. */
  private caughtUp(): void {
    if (!this.catchingUp) return;
    this.catchingUp = false;
    this.backoff.reset();
    this.everConnected = true;
    this.joinedAt = Date.now();
    this.setStatus({ kind: "connected" });
    const sub = this.doc?.resume();
    if (sub) this.sendEdit(sub);
    this.becomeEditable();
    this.reportSynced();
    this.sendCursor();
  }

  private becomeEditable(): void {
    if (this.wasEditable) return;
    this.wasEditable = true;
    if (this.viewOnly) this.editor.setViewOnly();
    else this.editor.setEditable(true);
    this.events?.editable();
  }

  private sendEdit(sub: Submission): void {
    this.socket?.send({ type: "edit", revision: sub.revision, seq: sub.seq, operation: sub.operation });
  }

  private sendCursor(): void {
    const doc = this.doc;
    if (!doc || !this.isConnected) return;
    this.lastCursorSent = Date.now();
    const sel = this.editor.selection();
    try {
      const toRemote = (p: number) => doc.localIndexToRemote(p);
      this.socket?.send({
        type: "cursorData",
        cursors: sel.heads.slice(0, 100).map(toRemote),
        selections: sel.ranges.slice(0, 100).map(([a, b]): [number, number] => [toRemote(a), toRemote(b)]),
        revision: doc.revision,
      });
    } catch {
      // A cursor is not worth a resync; the next one will do.
    }
  }

  private reportSynced(): void {
    const synced = this.isSynchronized;
    if (synced !== this.lastSynced) {
      this.lastSynced = synced;
      this.events?.synced(synced);
    }
  }

  private avoidHueCollision(): void {
    if (!this.o.hueIsAutomatic()) return;
    const hues = this.roster.others().map(([, info]) => info.hue);
    if (!hueCollides(this.o.info().hue, hues)) return;
    this.events?.hueChanged(pickHue(hues));
    this.infoChanged();
  }

  // --- recovery ---

  /**
   * The server and this tab disagree (a message that does not decode or
   * apply, a refused duplicate, …). Reconnect as a fresh join: the next
   * snapshot rebuilds the Doc under the editor's unchanged text.
   */
  private bug(what: string): void {
    console.error("tandem: resyncing:", what);
    this.freshJoin = true;
    this.diverged = true;
    const socket = this.socket;
    this.socket = null;
    socket?.close(Close.Normal, "resync");
    this.catchingUp = false;
    if (this.doc) {
      this.usedSeq = Math.max(this.usedSeq, this.doc.nextSeq - 1);
      this.doc.disconnected();
    }
    this.editorOrNull?.clearRemoteCursors();
    this.roster.clear();
    this.retryLater("resynchronising");
  }

  /**
   * The server refused our edit for its size (4413, 1009). The editor
   * keeps the text; the Doc, whose pending edit would be refused again on
   * every reconnect, is dropped. Syncing resumes — as a fresh join that
   * rebases the editor's text — when the user asks, or by itself once
   * undoing brings the text back under the limit.
   */
  private pause(reason: string): void {
    const m = /limit of (\d+)/.exec(reason);
    const limitBytes = m ? Number(m[1]) : null;
    if (this.doc) {
      this.usedSeq = Math.max(this.usedSeq, this.doc.nextSeq - 1);
      this.doc.free();
      this.doc = null;
    }
    this.paused = { limitBytes };
    this.reportSynced();
    this.setStatus({ kind: "too-large", message: reason, limitBytes });
  }

  private schedulePauseCheck(): void {
    const limit = this.paused?.limitBytes;
    if (limit == null) return;
    if (this.pauseCheck) clearTimeout(this.pauseCheck);
    // Measuring is O(n), so only after typing stops, and only here.
    this.pauseCheck = setTimeout(() => {
      this.pauseCheck = null;
      if (!this.paused) return;
      const bytes = new TextEncoder().encode(this.editor.text()).length;
      if (bytes <= limit) this.resumeFromPause(false);
    }, 700);
  }
}

// The wire protocol (docs/protocol.md): the only web module that knows the
// JSON shapes of messages. Everything else speaks the typed values below.
//
// Decoding is strict about what the client relies on (types of ids,
// revisions, operations) and lenient about what it may ignore: an unknown
// message type decodes to `{type: "unknown"}` so that a newer server can add
// messages without breaking older tabs.

/** An operation in wire form: retain n > 0, delete -n, insert "text". */
export type WireOperation = (number | string)[];

/** A user's display name and colour (hue 0–359). */
export interface UserInfo {
  name: string;
  hue: number;
}

export type ClientMessage =
  | {
      type: "hello";
      client: string;
      revision: number | null;
      /** The epoch `revision` belongs to (from the last Snapshot). */
      epoch?: string;
      info?: UserInfo;
    }
  | { type: "edit"; revision: number; seq: number; operation: WireOperation }
  | { type: "setLanguage"; language: string }
  | { type: "clientInfo"; info: UserInfo }
  | {
      type: "cursorData";
      cursors: number[];
      selections: [number, number][];
      revision: number;
    }
  | { type: "setOtp"; enabled: boolean }
  | { type: "setViewLink"; enabled: boolean };

export interface HistoryEntry {
  /** The author's user id. */
  id: number;
  operation: WireOperation;
}

export type ServerMessage =
  | { type: "identity"; user: number }
  | { type: "history"; start: number; operations: HistoryEntry[] }
  | { type: "snapshot"; revision: number; text: string; lastSeq: number; epoch: string }
  | { type: "language"; language: string; userId: number | null; userName: string | null }
  | { type: "userInfo"; id: number; info: UserInfo | null }
  | { type: "userCursor"; id: number; cursors: number[]; selections: [number, number][] }
  | { type: "otp"; otp: string | null; userId: number | null; userName: string | null }
  /** The read-only link's view secret (editors only); null: none. */
  | { type: "viewLink"; secret: string | null; userId: number | null; userName: string | null }
  /** This connection is a viewer (ends its greeting). */
  | { type: "readOnly" }
  | { type: "error"; code: string; message: string }
  | { type: "unknown"; name: string };

/** A server message that does not have the documented shape. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** Close codes (docs/protocol.md, "Close codes"). */
export const Close = {
  Normal: 1000,
  Abnormal: 1006,
  MessageTooLarge: 1009,
  Internal: 1011,
  Restarting: 1012,
  Replaced: 4000,
  Malformed: 4400,
  Unauthorized: 4401,
  ViewRevoked: 4403,
  Timeout: 4408,
  RevisionOutOfRange: 4409,
  DocumentTooLarge: 4413,
  DoesNotApply: 4422,
} as const;

/** The languages the server accepts in `SetLanguage`. */
export const LANGUAGES = [
  "plaintext", "bat", "c", "cpp", "csharp", "css", "dockerfile", "go",
  "graphql", "html", "ini", "java", "javascript", "json", "julia", "kotlin",
  "latex", "lua", "markdown", "mysql", "objective-c", "perl", "pgsql", "php",
  "powershell", "python", "r", "ruby", "rust", "scala", "scheme", "shell",
  "sql", "swift", "toml", "typescript", "xml", "yaml",
] as const;
export type Language = (typeof LANGUAGES)[number];

export function isLanguage(name: string): name is Language {
  return (LANGUAGES as readonly string[]).includes(name);
}

export function encode(msg: ClientMessage): string {
  switch (msg.type) {
    case "hello": {
      const hello: Record<string, unknown> = { client: msg.client, revision: msg.revision };
      if (msg.revision !== null && msg.epoch) hello.epoch = msg.epoch;
      if (msg.info) hello.info = { name: msg.info.name, hue: msg.info.hue };
      return JSON.stringify({ Hello: hello });
    }
    case "edit":
      return JSON.stringify({
        Edit: { revision: msg.revision, seq: msg.seq, operation: msg.operation },
      });
    case "setLanguage":
      return JSON.stringify({ SetLanguage: msg.language });
    case "clientInfo":
      return JSON.stringify({ ClientInfo: { name: msg.info.name, hue: msg.info.hue } });
    case "cursorData":
      return JSON.stringify({
        CursorData: { cursors: msg.cursors, selections: msg.selections, revision: msg.revision },
      });
    case "setOtp":
      return JSON.stringify({ SetOTP: { enabled: msg.enabled } });
    case "setViewLink":
      return JSON.stringify({ SetViewLink: { enabled: msg.enabled } });
  }
}

// --- decoding helpers: each throws ProtocolError naming what was wrong ---

type Json = unknown;

function fail(what: string): never {
  throw new ProtocolError(`malformed server message: ${what}`);
}

function obj(v: Json, what: string): Record<string, Json> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`${what} is not an object`);
  return v as Record<string, Json>;
}

function uint(v: Json, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    fail(`${what} is not a non-negative integer`);
  }
  return v;
}

function str(v: Json, what: string): string {
  if (typeof v !== "string") fail(`${what} is not a string`);
  return v;
}

function optUint(v: Json, what: string): number | null {
  return v === null || v === undefined ? null : uint(v, what);
}

function optStr(v: Json, what: string): string | null {
  return v === null || v === undefined ? null : str(v, what);
}

function operation(v: Json, what: string): WireOperation {
  if (!Array.isArray(v)) fail(`${what} is not an array`);
  for (const c of v) {
    const ok =
      (typeof c === "number" && Number.isSafeInteger(c) && c !== 0) ||
      (typeof c === "string" && c.length > 0);
    if (!ok) fail(`${what} has an invalid component`);
  }
  return v as WireOperation;
}

function userInfo(v: Json, what: string): UserInfo {
  const o = obj(v, what);
  const hue = uint(o.hue, `${what}.hue`);
  return { name: str(o.name, `${what}.name`), hue: hue % 360 };
}

function positions(v: Json, what: string): number[] {
  if (!Array.isArray(v)) fail(`${what} is not an array`);
  return v.map((p, i) => uint(p, `${what}[${i}]`));
}

function ranges(v: Json, what: string): [number, number][] {
  if (!Array.isArray(v)) fail(`${what} is not an array`);
  return v.map((r, i) => {
    if (!Array.isArray(r) || r.length !== 2) fail(`${what}[${i}] is not a pair`);
    return [uint(r[0], `${what}[${i}][0]`), uint(r[1], `${what}[${i}][1]`)];
  });
}

/** Decodes one text frame from the server. Throws `ProtocolError`. */
export function decode(data: string): ServerMessage {
  let parsed: Json;
  try {
    parsed = JSON.parse(data);
  } catch {
    fail("not JSON");
  }
  const outer = obj(parsed, "message");
  const keys = Object.keys(outer);
  if (keys.length !== 1) fail("expected exactly one key");
  const name = keys[0] as string;
  const body = outer[name];
  switch (name) {
    case "Identity":
      return { type: "identity", user: uint(body, "Identity") };
    case "History": {
      const o = obj(body, "History");
      if (!Array.isArray(o.operations)) fail("History.operations is not an array");
      return {
        type: "history",
        start: uint(o.start, "History.start"),
        operations: o.operations.map((e, i) => {
          const entry = obj(e, `History.operations[${i}]`);
          return {
            id: uint(entry.id, `History.operations[${i}].id`),
            operation: operation(entry.operation, `History.operations[${i}].operation`),
          };
        }),
      };
    }
    case "Snapshot": {
      const o = obj(body, "Snapshot");
      return {
        type: "snapshot",
        revision: uint(o.revision, "Snapshot.revision"),
        text: str(o.text, "Snapshot.text"),
        lastSeq: uint(o.last_seq ?? 0, "Snapshot.last_seq"),
        epoch: str(o.epoch ?? "", "Snapshot.epoch"),
      };
    }
    case "Language": {
      const o = obj(body, "Language");
      return {
        type: "language",
        language: str(o.language, "Language.language"),
        userId: optUint(o.user_id, "Language.user_id"),
        userName: optStr(o.user_name, "Language.user_name"),
      };
    }
    case "UserInfo": {
      const o = obj(body, "UserInfo");
      return {
        type: "userInfo",
        id: uint(o.id, "UserInfo.id"),
        info: o.info === null || o.info === undefined ? null : userInfo(o.info, "UserInfo.info"),
      };
    }
    case "UserCursor": {
      const o = obj(body, "UserCursor");
      const d = obj(o.data, "UserCursor.data");
      return {
        type: "userCursor",
        id: uint(o.id, "UserCursor.id"),
        cursors: positions(d.cursors ?? [], "UserCursor.data.cursors"),
        selections: ranges(d.selections ?? [], "UserCursor.data.selections"),
      };
    }
    case "OTP": {
      const o = obj(body, "OTP");
      return {
        type: "otp",
        otp: optStr(o.otp, "OTP.otp"),
        userId: optUint(o.user_id, "OTP.user_id"),
        userName: optStr(o.user_name, "OTP.user_name"),
      };
    }
    case "ViewLink": {
      const o = obj(body, "ViewLink");
      return {
        type: "viewLink",
        secret: optStr(o.secret, "ViewLink.secret"),
        userId: optUint(o.user_id, "ViewLink.user_id"),
        userName: optStr(o.user_name, "ViewLink.user_name"),
      };
    }
    case "ReadOnly":
      obj(body, "ReadOnly");
      return { type: "readOnly" };
    case "Error": {
      const o = obj(body, "Error");
      return {
        type: "error",
        code: str(o.code, "Error.code"),
        message: typeof o.message === "string" ? o.message : "",
      };
    }
    default:
      return { type: "unknown", name };
  }
}

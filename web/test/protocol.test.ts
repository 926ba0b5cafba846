import { describe, expect, it } from "vitest";
import { Close, LANGUAGES, ProtocolError, decode, encode, isLanguage } from "../src/protocol";

describe("encode", () => {
  it("writes each client message in the documented shape", () => {
    expect(JSON.parse(encode({ type: "hello", client: "k".repeat(22), revision: null, info: { name: "Ann", hue: 120 } }))).toEqual({
      Hello: { client: "k".repeat(22), revision: null, info: { name: "Ann", hue: 120 } },
    });
    expect(JSON.parse(encode({ type: "hello", client: "abc", revision: 7 }))).toEqual({
      Hello: { client: "abc", revision: 7 },
    });
    expect(JSON.parse(encode({ type: "hello", client: "abc", revision: 7, epoch: "e1" }))).toEqual({
      Hello: { client: "abc", revision: 7, epoch: "e1" },
    });
    // No epoch without a revision: it qualifies the revision.
    expect(JSON.parse(encode({ type: "hello", client: "abc", revision: null, epoch: "e1" }))).toEqual({
      Hello: { client: "abc", revision: null },
    });
    expect(JSON.parse(encode({ type: "edit", revision: 3, seq: 12, operation: [10, "hi", -2] }))).toEqual({
      Edit: { revision: 3, seq: 12, operation: [10, "hi", -2] },
    });
    expect(JSON.parse(encode({ type: "setLanguage", language: "rust" }))).toEqual({ SetLanguage: "rust" });
    expect(JSON.parse(encode({ type: "clientInfo", info: { name: "Ann", hue: 5 } }))).toEqual({
      ClientInfo: { name: "Ann", hue: 5 },
    });
    expect(
      JSON.parse(encode({ type: "cursorData", cursors: [4], selections: [[1, 3]], revision: 9 })),
    ).toEqual({ CursorData: { cursors: [4], selections: [[1, 3]], revision: 9 } });
    expect(JSON.parse(encode({ type: "setOtp", enabled: false }))).toEqual({ SetOTP: { enabled: false } });
  });
});

describe("decode", () => {
  it("reads every server message", () => {
    expect(decode('{"Identity":3}')).toEqual({ type: "identity", user: 3 });
    expect(decode('{"History":{"start":5,"operations":[{"id":1,"operation":[2,"x",-1]}]}}')).toEqual({
      type: "history",
      start: 5,
      operations: [{ id: 1, operation: [2, "x", -1] }],
    });
    expect(decode('{"Snapshot":{"revision":9,"text":"héllo 😀","last_seq":4}}')).toEqual({
      type: "snapshot",
      revision: 9,
      text: "héllo 😀",
      lastSeq: 4,
      epoch: "",
    });
    expect(
      decode('{"Snapshot":{"revision":9,"last_seq":4,"epoch":"00ff00ff00ff00ff","text":""}}'),
    ).toEqual({ type: "snapshot", revision: 9, text: "", lastSeq: 4, epoch: "00ff00ff00ff00ff" });
    expect(decode('{"Language":{"language":"rust","user_id":null,"user_name":null}}')).toEqual({
      type: "language",
      language: "rust",
      userId: null,
      userName: null,
    });
    expect(decode('{"UserInfo":{"id":2,"info":{"name":"Bo","hue":300}}}')).toEqual({
      type: "userInfo",
      id: 2,
      info: { name: "Bo", hue: 300 },
    });
    expect(decode('{"UserInfo":{"id":2,"info":null}}')).toEqual({ type: "userInfo", id: 2, info: null });
    expect(decode('{"UserCursor":{"id":2,"data":{"cursors":[4],"selections":[[1,3]]}}}')).toEqual({
      type: "userCursor",
      id: 2,
      cursors: [4],
      selections: [[1, 3]],
    });
    expect(decode('{"OTP":{"otp":"abc","user_id":1,"user_name":"Ann"}}')).toEqual({
      type: "otp",
      otp: "abc",
      userId: 1,
      userName: "Ann",
    });
    expect(decode('{"Error":{"code":"invalid_language","message":"no"}}')).toEqual({
      type: "error",
      code: "invalid_language",
      message: "no",
    });
  });

  it("passes unknown message types through, for newer servers", () => {
    expect(decode('{"Future":{"x":1}}')).toEqual({ type: "unknown", name: "Future" });
  });

  it("refuses what it cannot trust", () => {
    for (const bad of [
      "not json",
      "[]",
      "{}",
      '{"Identity":1,"History":{}}',
      '{"Identity":-1}',
      '{"Identity":1.5}',
      '{"History":{"start":0,"operations":[{"id":1,"operation":[0]}]}}',
      '{"History":{"start":0,"operations":[{"id":1,"operation":[""]}]}}',
      '{"History":{"start":0,"operations":[{"id":1,"operation":[true]}]}}',
      '{"History":{"start":0}}',
      '{"Snapshot":{"revision":1,"text":5}}',
      '{"UserCursor":{"id":1,"data":{"cursors":[-1]}}}',
      '{"UserCursor":{"id":1,"data":{"selections":[[1]]}}}',
    ]) {
      expect(() => decode(bad), bad).toThrow(ProtocolError);
    }
  });
});

describe("languages", () => {
  it("lists the protocol's names", () => {
    expect(LANGUAGES).toHaveLength(38);
    expect(isLanguage("objective-c")).toBe(true);
    expect(isLanguage("cobol")).toBe(false);
  });

  it("has the documented close codes", () => {
    expect(Close.Replaced).toBe(4000);
    expect(Close.DocumentTooLarge).toBe(4413);
    expect(Close.Restarting).toBe(1012);
  });
});

describe("read-only links", () => {
  it("encodes SetViewLink and decodes ViewLink and ReadOnly", () => {
    expect(JSON.parse(encode({ type: "setViewLink", enabled: true }))).toEqual({ SetViewLink: { enabled: true } });
    expect(decode('{"ViewLink":{"secret":"abc","user_id":2,"user_name":"Ann"}}')).toEqual({
      type: "viewLink",
      secret: "abc",
      userId: 2,
      userName: "Ann",
    });
    expect(decode('{"ViewLink":{"secret":null,"user_id":null,"user_name":null}}')).toEqual({
      type: "viewLink",
      secret: null,
      userId: null,
      userName: null,
    });
    expect(decode('{"ReadOnly":{}}')).toEqual({ type: "readOnly" });
    expect(() => decode('{"ViewLink":{"secret":5}}')).toThrow(ProtocolError);
    expect(() => decode('{"ReadOnly":[]}')).toThrow(ProtocolError);
    expect(Close.ViewRevoked).toBe(4403);
  });
});

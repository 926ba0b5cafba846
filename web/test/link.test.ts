import { describe, expect, it } from "vitest";
import {
  CLIENT_KEY_LENGTH,
  formatHash,
  isValidId,
  isViewOnly,
  newDocumentId,
  otpFromInput,
  parseHash,
  randomToken,
  shareLink,
  socketUrl,
  textUrl,
  viewLink,
} from "../src/link";

describe("hash parsing", () => {
  it("reads ids and OTPs", () => {
    expect(parseHash("#abc-DEF_123")).toEqual({ id: "abc-DEF_123", otp: null });
    expect(parseHash("#abc?otp=x-Y_z")).toEqual({ id: "abc", otp: "x-Y_z" });
    expect(parseHash("abc?foo=1&otp=q")).toEqual({ id: "abc", otp: "q" });
    expect(parseHash("#abc?otp=")).toEqual({ id: "abc", otp: null });
  });

  it("refuses empty and invalid ids", () => {
    expect(parseHash("")).toBeNull();
    expect(parseHash("#")).toBeNull();
    expect(parseHash("#a b")).toBeNull();
    expect(parseHash("#a/b")).toBeNull();
    expect(parseHash("#" + "a".repeat(65))).toBeNull();
    expect(parseHash("#%E0%A4%A")).toBeNull();
  });

  it("round-trips through formatHash", () => {
    for (const addr of [
      { id: "abc", otp: null },
      { id: "abc", otp: "a+b/c=" },
    ]) {
      expect(parseHash(formatHash(addr))).toEqual(addr);
    }
  });
});

describe("ids and keys", () => {
  it("are URL-safe and unguessable by length", () => {
    const id = newDocumentId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(isValidId(id)).toBe(true);
    expect(randomToken(CLIENT_KEY_LENGTH)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(newDocumentId()).not.toBe(id);
  });

  it("map every byte onto the alphabet", () => {
    const bytes = (b: Uint8Array) => b.map((_, i) => i * 37);
    expect(randomToken(8, bytes)).toMatch(/^[A-Za-z0-9_-]{8}$/);
  });
});

describe("links", () => {
  it("keeps the sub-path in share links", () => {
    const loc = { origin: "https://example.org", pathname: "/pad/" };
    expect(shareLink(loc, { id: "abc", otp: null })).toBe("https://example.org/pad/#abc");
    expect(shareLink(loc, { id: "abc", otp: "s3cr3t" })).toBe("https://example.org/pad/#abc?otp=s3cr3t");
  });

  it("resolves API URLs against the page, ws or wss by protocol", () => {
    expect(socketUrl("http://h:8/pad/#x", { id: "abc", otp: null })).toBe("ws://h:8/pad/api/socket/abc");
    expect(socketUrl("https://h/pad/index.html", { id: "abc", otp: "a+b" })).toBe(
      "wss://h/pad/api/socket/abc?otp=a%2Bb",
    );
    expect(textUrl("https://h/", { id: "abc", otp: "o" })).toBe("https://h/api/text/abc?otp=o");
  });

  it("takes an OTP or a pasted link in the OTP box", () => {
    expect(otpFromInput(" abc ")).toBe("abc");
    expect(otpFromInput("https://h/#doc?otp=xyz")).toBe("xyz");
    expect(otpFromInput("#doc?otp=a%2Bb")).toBe("a+b");
  });
});

describe("read-only links", () => {
  it("parse with the view secret, which wins over an OTP", () => {
    expect(parseHash("#abc?view=V1")).toEqual({ id: "abc", otp: null, view: "V1" });
    expect(parseHash("#abc?otp=O&view=V")).toEqual({ id: "abc", otp: null, view: "V" });
    expect(parseHash("#abc?view=")).toEqual({ id: "abc", otp: null, view: "" });
    expect(isViewOnly(parseHash("#abc?view=V")!)).toBe(true);
    expect(isViewOnly(parseHash("#abc?otp=O")!)).toBe(false);
  });

  it("round-trip and carry the view secret, never the OTP, to the server", () => {
    const addr = { id: "abc", otp: null, view: "a+b" };
    expect(parseHash(formatHash(addr))).toEqual(addr);
    expect(formatHash({ id: "abc", otp: "o", view: "v" })).toBe("#abc?view=v");
    expect(socketUrl("https://h/", { id: "abc", otp: "o", view: "v" })).toBe("wss://h/api/socket/abc?view=v");
    expect(textUrl("http://h/", addr)).toBe("http://h/api/text/abc?view=a%2Bb");
    const loc = { origin: "https://example.org", pathname: "/pad/" };
    expect(viewLink(loc, "abc", "v")).toBe("https://example.org/pad/#abc?view=v");
  });
});

import { describe, expect, it } from "vitest";
import { allLanguages, fileName, languageForFile, languageInfo } from "../src/languages";
import { LANGUAGES } from "../src/protocol";

describe("languages", () => {
  it("cover every protocol language, plain text first", () => {
    const all = allLanguages();
    expect(all.map((l) => l.name).sort()).toEqual([...LANGUAGES].sort());
    expect(all[0]?.name).toBe("plaintext");
  });

  it("load their editor support lazily", async () => {
    expect(languageInfo("plaintext").load).toBeUndefined();
    expect(languageInfo("graphql").load).toBeUndefined(); // shown as plain text
    const rust = await languageInfo("rust").load?.();
    expect(rust).toBeTruthy();
    const lua = await languageInfo("lua").load?.();
    expect(lua).toBeTruthy();
  });

  it("map files to languages and back", () => {
    expect(languageForFile("main.rs")).toBe("rust");
    expect(languageForFile("App.TSX")).toBe("typescript");
    expect(languageForFile("Dockerfile")).toBe("dockerfile");
    expect(languageForFile("query.sql")).toBe("sql");
    expect(languageForFile("notes")).toBeNull();
    expect(languageForFile("x.unknownext")).toBeNull();
    expect(fileName("abc", "python")).toBe("abc.py");
    expect(fileName("abc", "dockerfile")).toBe("Dockerfile");
    expect(fileName("abc", "plaintext")).toBe("abc.txt");
  });
});

// Syntax highlighting for the protocol's languages, loaded on demand.
//
// Each language's support is a dynamic import(), so the first page carries
// none of them: Vite splits every loader into its own chunk, fetched the
// first time a document uses that language. Languages CodeMirror has no
// mode for (bat, graphql) are shown as plain text.

import type { Extension } from "@codemirror/state";
// Static: the main bundle holds @codemirror/language anyway.
import { StreamLanguage, type StreamParser } from "@codemirror/language";
import { LANGUAGES, type Language } from "./protocol";

export interface LanguageInfo {
  name: Language;
  /** Shown in the picker and in messages. */
  label: string;
  /** File extension for downloads, without the dot. */
  ext: string;
  /** The editor extension; absent for plain text. */
  load?: () => Promise<Extension>;
}

/** A CodeMirror 5 style mode from @codemirror/legacy-modes. */
async function legacy(parser: Promise<StreamParser<unknown>>): Promise<Extension> {
  return StreamLanguage.define(await parser);
}

async function sql(dialect: "StandardSQL" | "MySQL" | "PostgreSQL"): Promise<Extension> {
  const m = await import("@codemirror/lang-sql");
  return m.sql({ dialect: m[dialect] });
}

const INFO: Record<Language, Omit<LanguageInfo, "name">> = {
  plaintext: { label: "Plain text", ext: "txt" },
  bat: { label: "Batch", ext: "bat" },
  c: { label: "C", ext: "c", load: async () => (await import("@codemirror/lang-cpp")).cpp() },
  cpp: { label: "C++", ext: "cpp", load: async () => (await import("@codemirror/lang-cpp")).cpp() },
  csharp: {
    label: "C#",
    ext: "cs",
    load: () => legacy(import("@codemirror/legacy-modes/mode/clike").then((m) => m.csharp)),
  },
  css: { label: "CSS", ext: "css", load: async () => (await import("@codemirror/lang-css")).css() },
  dockerfile: {
    label: "Dockerfile",
    ext: "dockerfile",
    load: () => legacy(import("@codemirror/legacy-modes/mode/dockerfile").then((m) => m.dockerFile)),
  },
  go: { label: "Go", ext: "go", load: async () => (await import("@codemirror/lang-go")).go() },
  graphql: { label: "GraphQL", ext: "graphql" },
  html: { label: "HTML", ext: "html", load: async () => (await import("@codemirror/lang-html")).html() },
  ini: {
    label: "INI",
    ext: "ini",
    load: () => legacy(import("@codemirror/legacy-modes/mode/properties").then((m) => m.properties)),
  },
  java: { label: "Java", ext: "java", load: async () => (await import("@codemirror/lang-java")).java() },
  javascript: {
    label: "JavaScript",
    ext: "js",
    load: async () => (await import("@codemirror/lang-javascript")).javascript({ jsx: true }),
  },
  json: { label: "JSON", ext: "json", load: async () => (await import("@codemirror/lang-json")).json() },
  julia: {
    label: "Julia",
    ext: "jl",
    load: () => legacy(import("@codemirror/legacy-modes/mode/julia").then((m) => m.julia)),
  },
  kotlin: {
    label: "Kotlin",
    ext: "kt",
    load: () => legacy(import("@codemirror/legacy-modes/mode/clike").then((m) => m.kotlin)),
  },
  latex: {
    label: "LaTeX",
    ext: "tex",
    load: () => legacy(import("@codemirror/legacy-modes/mode/stex").then((m) => m.stex)),
  },
  lua: { label: "Lua", ext: "lua", load: () => legacy(import("@codemirror/legacy-modes/mode/lua").then((m) => m.lua)) },
  markdown: {
    label: "Markdown",
    ext: "md",
    load: async () => (await import("@codemirror/lang-markdown")).markdown(),
  },
  mysql: { label: "MySQL", ext: "sql", load: () => sql("MySQL") },
  "objective-c": {
    label: "Objective-C",
    ext: "m",
    load: () => legacy(import("@codemirror/legacy-modes/mode/clike").then((m) => m.objectiveC)),
  },
  perl: { label: "Perl", ext: "pl", load: () => legacy(import("@codemirror/legacy-modes/mode/perl").then((m) => m.perl)) },
  pgsql: { label: "PostgreSQL", ext: "sql", load: () => sql("PostgreSQL") },
  php: { label: "PHP", ext: "php", load: async () => (await import("@codemirror/lang-php")).php() },
  powershell: {
    label: "PowerShell",
    ext: "ps1",
    load: () => legacy(import("@codemirror/legacy-modes/mode/powershell").then((m) => m.powerShell)),
  },
  python: { label: "Python", ext: "py", load: async () => (await import("@codemirror/lang-python")).python() },
  r: { label: "R", ext: "r", load: () => legacy(import("@codemirror/legacy-modes/mode/r").then((m) => m.r)) },
  ruby: { label: "Ruby", ext: "rb", load: () => legacy(import("@codemirror/legacy-modes/mode/ruby").then((m) => m.ruby)) },
  rust: { label: "Rust", ext: "rs", load: async () => (await import("@codemirror/lang-rust")).rust() },
  scala: {
    label: "Scala",
    ext: "scala",
    load: () => legacy(import("@codemirror/legacy-modes/mode/clike").then((m) => m.scala)),
  },
  scheme: {
    label: "Scheme",
    ext: "scm",
    load: () => legacy(import("@codemirror/legacy-modes/mode/scheme").then((m) => m.scheme)),
  },
  shell: { label: "Shell", ext: "sh", load: () => legacy(import("@codemirror/legacy-modes/mode/shell").then((m) => m.shell)) },
  sql: { label: "SQL", ext: "sql", load: () => sql("StandardSQL") },
  swift: { label: "Swift", ext: "swift", load: () => legacy(import("@codemirror/legacy-modes/mode/swift").then((m) => m.swift)) },
  toml: { label: "TOML", ext: "toml", load: () => legacy(import("@codemirror/legacy-modes/mode/toml").then((m) => m.toml)) },
  typescript: {
    label: "TypeScript",
    ext: "ts",
    load: async () => (await import("@codemirror/lang-javascript")).javascript({ typescript: true, jsx: true }),
  },
  xml: { label: "XML", ext: "xml", load: async () => (await import("@codemirror/lang-xml")).xml() },
  yaml: { label: "YAML", ext: "yaml", load: async () => (await import("@codemirror/lang-yaml")).yaml() },
};

export function languageInfo(name: Language): LanguageInfo {
  return { name, ...INFO[name] };
}

/** Every language, for the picker, plain text first then by label. */
export function allLanguages(): LanguageInfo[] {
  const [plain, ...rest] = LANGUAGES.map(languageInfo);
  rest.sort((a, b) => a.label.localeCompare(b.label));
  return plain ? [plain, ...rest] : rest;
}

/** Extra file extensions recognised when a file is opened. */
const EXTRA_EXTS: Record<string, Language> = {
  cmd: "bat", h: "c", hpp: "cpp", cc: "cpp", cxx: "cpp", hh: "cpp", htm: "html",
  mjs: "javascript", cjs: "javascript", jsx: "javascript", tsx: "typescript",
  mts: "typescript", kts: "kotlin", markdown: "markdown", bash: "shell", zsh: "shell",
  yml: "yaml", psm1: "powershell", pm: "perl", ss: "scheme", rkt: "scheme",
  svg: "xml", cfg: "ini", conf: "ini", gql: "graphql", txt: "plaintext", mm: "objective-c",
};

/** The language of a file, from its name, if recognised. */
export function languageForFile(fileName: string): Language | null {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  if (/^dockerfile$/i.test(base) || /\.dockerfile$/i.test(base)) return "dockerfile";
  const dot = base.lastIndexOf(".");
  if (dot < 0) return null;
  const ext = base.slice(dot + 1).toLowerCase();
  if (EXTRA_EXTS[ext]) return EXTRA_EXTS[ext];
  // Several SQL dialects share .sql: plain SQL is the neutral choice.
  if (ext === "sql") return "sql";
  for (const name of LANGUAGES) if (INFO[name].ext === ext) return name;
  return null;
}

/** The download name for a document. */
export function fileName(docId: string, language: Language): string {
  return language === "dockerfile" ? "Dockerfile" : `${docId}.${INFO[language].ext}`;
}

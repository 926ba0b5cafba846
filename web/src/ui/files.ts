// Moving text between the document and local files.

/** Saves `text` as a file through the browser's download. */
export function download(text: string, name: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  // Revoked later: some browsers start the download asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Largest file offered for opening; the server's default limit is
 * 256 KiB, and far larger text would only be refused after a long wait. */
export const MAX_OPEN_BYTES = 16 * 1024 * 1024;

/**
 * Reads a local file as text. Windows line ends become "\n" (like a paste)
 * so they do not show as stray "\r" characters. Returns null (after saying
 * why) for a file that is not text or far too large.
 */
export async function readTextFile(file: File, warn: (msg: string) => void): Promise<string | null> {
  if (file.size > MAX_OPEN_BYTES) {
    warn(`${file.name} is too large to open (${Math.round(file.size / 1024)} KiB).`);
    return null;
  }
  const text = await file.text();
  if (text.includes("\u0000")) {
    warn(`${file.name} does not look like a text file.`);
    return null;
  }
  return text.replace(/\r\n?/g, "\n");
}

import { decodeUtf8 } from '../../src/index.js';

// Files in and out of the page: a picked file's bytes or UTF-8 text, and a download.

export async function fileBytes(file: File): Promise<Uint8Array> {
  return new Uint8Array(await file.arrayBuffer());
}

/** The file's text, as the CLI reads it; throws TextError (saying where the bad bytes are)
 * if it is not UTF-8. */
export async function fileText(file: File): Promise<string> {
  return decodeUtf8(await fileBytes(file), file.name);
}

export function download(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

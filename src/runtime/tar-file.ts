import { extract } from 'tar-stream';
import type { Readable } from 'node:stream';

/**
 * The text of the one regular file in a tar stream (the engine's archive of a single path), at
 * most `limit` bytes. null when the entry is no regular file (a symlink: its target is not read).
 */
export async function readTarFile(tar: NodeJS.ReadableStream, limit: number): Promise<string | null> {
  const ex = extract();
  (tar as Readable).pipe(ex);
  let text: string | null = null;
  let first = true;
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of entry as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        (tar as Readable).destroy?.();
        throw new Error(`image file larger than ${limit} bytes`);
      }
      if (first && entry.header.type === 'file') chunks.push(chunk);
    }
    if (first && entry.header.type === 'file') text = Buffer.concat(chunks).toString('utf8');
    first = false;
  }
  return text;
}

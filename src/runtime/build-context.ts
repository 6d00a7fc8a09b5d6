import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pack, type Pack } from 'tar-stream';

/**
 * Streams a directory as the tar build context the engine expects, without holding it in memory.
 * Symlinks are stored as links (as the docker CLI does), so a context cannot pull in host files.
 * Sockets, devices and fifos are skipped.
 */
export function packContext(dir: string, signal?: AbortSignal): Readable {
  const tar = pack();
  fill(tar, dir, dir, signal).then(
    () => tar.finalize(),
    (err: Error) => tar.destroy(err),
  );
  // tar-stream's pack is a streamx Readable; wrap it so dockerode gets a node stream.
  return Readable.from(tar as unknown as AsyncIterable<Buffer>);
}

async function fill(tar: Pack, root: string, dir: string, signal?: AbortSignal): Promise<void> {
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    signal?.throwIfAborted();
    const full = join(dir, name);
    const rel = relative(root, full).split(sep).join('/');
    const st = await lstat(full);
    const common = { name: rel, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
    if (st.isDirectory()) {
      await addEntry(tar, { ...common, type: 'directory' });
      await fill(tar, root, full, signal);
    } else if (st.isSymbolicLink()) {
      await addEntry(tar, { ...common, type: 'symlink', linkname: await readlink(full) });
    } else if (st.isFile()) {
      await addFile(tar, { ...common, type: 'file', size: st.size }, full);
    }
  }
}

function addEntry(tar: Pack, header: Parameters<Pack['entry']>[0]): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.entry(header, (err) => (err ? reject(err) : resolve()));
  });
}

/** Copies a file into its entry with backpressure; resolves when tar-stream has taken it all. */
function addFile(tar: Pack, header: Parameters<Pack['entry']>[0], path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = tar.entry(header, (err) => (err ? reject(err) : resolve()));
    (async () => {
      for await (const chunk of createReadStream(path)) {
        if (!sink.write(chunk as Buffer)) await new Promise<void>((r) => sink.once('drain', () => r()));
      }
      sink.end(undefined);
    })().catch(reject);
  });
}

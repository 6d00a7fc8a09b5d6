import { createReadStream, constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import yauzl from 'yauzl';
import { ArchiveError } from './errors.js';
import type { ArchiveLimits } from '../config.js';

export type { ArchiveLimits };

export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

export interface ExtractResult {
  format: ArchiveFormat;
  entries: number;
  bytes: number;
  /** The single top-level folder that was stripped (GitHub-style archives), or null. */
  strippedPrefix: string | null;
}

/**
 * Extracts an untrusted source archive (tar, tar.gz or zip, told apart by content) into destDir,
 * which must be absent or empty. Refuses paths and links that leave destDir, special files and
 * decompression bombs, stopping as soon as a limit is passed. On failure destDir is left empty.
 *
 * Symlinks are created only after every file and folder is written, so no entry can be written
 * through a link the archive planted; each link is then checked against the finished tree.
 */
export async function extractArchive(file: string, destDir: string, limits: ArchiveLimits): Promise<ExtractResult> {
  const st = await fs.stat(file);
  if (st.size > limits.maxArchiveBytes) {
    throw new ArchiveError(
      'archive_too_large',
      `archive is ${st.size} bytes, over the limit of ${limits.maxArchiveBytes} bytes`,
    );
  }
  const format = await sniff(file);
  await fs.mkdir(destDir, { recursive: true });
  if ((await fs.readdir(destDir)).length > 0) throw new Error(`extractArchive: ${destDir} is not empty`);
  const root = await fs.realpath(destDir);
  const x = new Extraction(root, limits);
  try {
    if (format === 'zip') await x.zip(file);
    else await x.tar(file, format === 'tar.gz');
    const strippedPrefix = await x.finish();
    return { format, entries: x.entries, bytes: x.bytes, strippedPrefix };
  } catch (err) {
    await emptyDir(root);
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError('archive_invalid', `archive could not be read: ${(err as Error).message}`);
  }
}

async function sniff(file: string): Promise<ArchiveFormat> {
  const fh = await fs.open(file, 'r');
  const head = Buffer.alloc(512);
  let n: number;
  try {
    ({ bytesRead: n } = await fh.read(head, 0, 512, 0));
  } finally {
    await fh.close();
  }
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (n >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  // An empty zip has only its end-of-central-directory record.
  if (n >= 4 && head.readUInt32LE(0) === 0x06054b50) return 'zip';
  if (n >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  if (n >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') {
    throw new ArchiveError('archive_invalid', 'bzip2 archives are not supported: upload tar, tar.gz or zip');
  }
  if (n >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw new ArchiveError('archive_invalid', 'xz archives are not supported: upload tar, tar.gz or zip');
  }
  throw new ArchiveError('archive_invalid', 'not a tar, tar.gz or zip archive');
}

async function emptyDir(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.map((n) => fs.rm(path.join(dir, n), { recursive: true, force: true })));
}

/** Validates an entry name and returns it normalized ('a/b'), or '' for the root itself. */
function cleanName(raw: string): string {
  if (raw.includes('\0')) throw unsafe(raw, 'contains a NUL byte');
  const name = raw.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw unsafe(raw, 'is an absolute path');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafe(raw, 'goes outside the archive with ".."');
  return parts.join('/');
}

function unsafe(entry: string, why: string): ArchiveError {
  return new ArchiveError('archive_unsafe_path', `entry ${JSON.stringify(entry)} ${why}`, entry);
}

function badEntry(entry: string, why: string): ArchiveError {
  return new ArchiveError('archive_bad_entry', `entry ${JSON.stringify(entry)} ${why}`, entry);
}

interface PendingLink {
  name: string;
  target: string;
}

class Extraction {
  entries = 0;
  bytes = 0;
  private names: string[] = [];
  private links = new Map<string, PendingLink>();
  /** The entry being read, to name it when the inflated stream passes a limit. */
  private current: string | null = null;

  constructor(
    private root: string,
    private limits: ArchiveLimits,
  ) {}

  private count(name: string): void {
    this.entries++;
    if (this.entries > this.limits.maxEntries) {
      throw new ArchiveError(
        'archive_bomb',
        `archive has more than ${this.limits.maxEntries} entries (stopped at ${JSON.stringify(name)})`,
        name,
      );
    }
  }

  private addBytes(name: string, n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxExpandedBytes) {
      throw new ArchiveError(
        'archive_bomb',
        `archive expands past the limit of ${this.limits.maxExpandedBytes} bytes (stopped in ${JSON.stringify(name)})`,
        name,
      );
    }
  }

  private abs(name: string): string {
    return path.join(this.root, name);
  }

  /** No symlink exists yet while files are written, so a plain mkdir cannot be redirected. */
  private async dir(name: string): Promise<void> {
    if (!name) return;
    this.links.delete(name);
    const st = await fs.lstat(this.abs(name)).catch(() => null);
    if (st && !st.isDirectory()) await fs.unlink(this.abs(name));
    await fs.mkdir(this.abs(name), { recursive: true, mode: 0o755 });
  }

  private async prepareFile(name: string, raw: string): Promise<void> {
    if (!name) throw badEntry(raw, 'is a file with no name');
    this.links.delete(name);
    await this.dir(path.posix.dirname(name) === '.' ? '' : path.posix.dirname(name));
    const st = await fs.lstat(this.abs(name)).catch(() => null);
    if (st?.isDirectory()) throw badEntry(raw, 'is a file where the archive already has a folder');
    if (st) await fs.unlink(this.abs(name));
  }

  private async file(name: string, raw: string, mode: number, content: Readable): Promise<void> {
    await this.prepareFile(name, raw);
    const fh = await fs.open(
      this.abs(name),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode & 0o111 ? 0o755 : 0o644,
    );
    try {
      await pipeline(
        content,
        new Writable({
          write: async (chunk: Buffer, _enc, cb) => {
            try {
              this.addBytes(raw, chunk.length);
              await fh.write(chunk);
              cb();
            } catch (err) {
              cb(err as Error);
            }
          },
        }),
      );
    } finally {
      await fh.close();
    }
  }

  private async hardlink(name: string, raw: string, linkname: string): Promise<void> {
    const target = cleanName(linkname);
    const st = target ? await fs.lstat(this.abs(target)).catch(() => null) : null;
    if (!st?.isFile()) throw badEntry(raw, `is a hard link to ${JSON.stringify(linkname)}, which is not a file earlier in the archive`);
    await this.prepareFile(name, raw);
    await fs.link(this.abs(target), this.abs(name));
  }

  private symlink(name: string, raw: string, target: string): void {
    if (!name) throw badEntry(raw, 'is a symlink with no name');
    if (!target || target.includes('\0')) throw badEntry(raw, 'is a symlink with an empty target');
    if (target.startsWith('/')) throw unsafe(raw, `is a symlink to the absolute path ${JSON.stringify(target)}`);
    // A quick lexical check names the entry early; the real check runs on the finished tree.
    const lexical = path.posix.normalize(path.posix.join(path.posix.dirname(name), target));
    if (lexical === '..' || lexical.startsWith('../')) {
      throw unsafe(raw, `is a symlink to ${JSON.stringify(target)}, outside the archive`);
    }
    this.links.set(name, { name: raw, target });
  }

  private async linkEntry(name: string, raw: string, target: string): Promise<void> {
    this.symlink(name, raw, target);
    // Its folder is made now, while no symlink exists that a mkdir could follow.
    const parent = path.posix.dirname(name);
    if (parent !== '.') await this.dir(parent);
  }

  private async entry(
    raw: string,
    type: string,
    mode: number,
    linkname: string | null,
    content: Readable | null,
  ): Promise<void> {
    this.count(raw);
    this.current = raw;
    const name = cleanName(raw);
    if (name) this.names.push(name);
    switch (type) {
      case 'directory':
        return this.dir(name);
      case 'file':
      case 'contiguous-file':
        return this.file(name, raw, mode, content!);
      case 'symlink':
        return this.linkEntry(name, raw, linkname ?? '');
      case 'link':
        return this.hardlink(name, raw, linkname ?? '');
      case 'character-device':
      case 'block-device':
        throw badEntry(raw, 'is a device file, which a source archive may not contain');
      case 'fifo':
        throw badEntry(raw, 'is a named pipe (FIFO), which a source archive may not contain');
      case 'socket':
        throw badEntry(raw, 'is a socket, which a source archive may not contain');
      default:
        throw badEntry(raw, `has an unsupported type (${type})`);
    }
  }

  async tar(file: string, gzipped: boolean): Promise<void> {
    const extract = tar.extract();
    const done = (async () => {
      for await (const e of extract) {
        const h = e.header;
        await this.entry(h.name, h.type ?? 'file', h.mode ?? 0o644, h.linkname ?? null, e as unknown as Readable);
        e.resume(); // drain what a non-file entry carries
      }
    })();
    // Counts inflated bytes too: headers and padding of a stream of empty entries cost nothing in
    // file content but still expand; the slack covers honest tar overhead.
    const slack = (this.limits.maxEntries + 8) * 1536 + 1024 * 1024;
    let inflated = 0;
    const meter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        inflated += chunk.length;
        if (inflated > this.limits.maxExpandedBytes + slack) {
          const at = this.current === null ? '' : ` (stopped in ${JSON.stringify(this.current)})`;
          cb(new ArchiveError('archive_bomb', `archive expands past the limit of ${this.limits.maxExpandedBytes} bytes${at}`));
        } else cb(null, chunk);
      },
    });
    const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [createReadStream(file)];
    if (gzipped) stages.push(createGunzip());
    stages.push(meter, extract);
    const piping = pipeline(stages as unknown as [Readable, Writable]);
    // Whichever fails first wins; the other is torn down so no stream is left running.
    try {
      await Promise.all([
        piping.catch((err) => {
          extract.destroy(err);
          throw err;
        }),
        done.catch((err) => {
          extract.destroy(err);
          throw err;
        }),
      ]);
    } catch (err) {
      await Promise.allSettled([piping, done]);
      throw err;
    }
  }

  async zip(file: string): Promise<void> {
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true }, (err, z) =>
        err ? reject(new ArchiveError('archive_invalid', `zip could not be read: ${err.message}`)) : resolve(z!),
      ),
    );
    try {
      if (zip.entryCount > this.limits.maxEntries) {
        throw new ArchiveError('archive_bomb', `archive has ${zip.entryCount} entries, over the limit of ${this.limits.maxEntries}`);
      }
      await new Promise<void>((resolve, reject) => {
        zip.on('error', (err: Error) => reject(zipError(err)));
        zip.on('end', () => resolve());
        zip.on('entry', (entry: yauzl.Entry) => {
          this.zipEntry(zip, entry).then(
            () => zip.readEntry(),
            (err) => reject(err),
          );
        });
        zip.readEntry();
      });
    } finally {
      zip.close();
    }
  }

  private async zipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<void> {
    const raw = entry.fileName;
    // Declared sizes can lie, but an honest one over the limit is refused before inflating.
    if (this.bytes + entry.uncompressedSize > this.limits.maxExpandedBytes) {
      this.count(raw);
      throw new ArchiveError(
        'archive_bomb',
        `archive expands past the limit of ${this.limits.maxExpandedBytes} bytes (at ${JSON.stringify(raw)})`,
        raw,
      );
    }
    const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
    const fmt = unixMode & 0o170000;
    const isDir = raw.endsWith('/') || fmt === 0o040000;
    const type = isDir
      ? 'directory'
      : fmt === 0o120000
        ? 'symlink'
        : fmt === 0o020000
          ? 'character-device'
          : fmt === 0o060000
            ? 'block-device'
            : fmt === 0o010000
              ? 'fifo'
              : fmt === 0o140000
                ? 'socket'
                : 'file';
    if (type !== 'file' && type !== 'symlink') return this.entry(raw, type, unixMode, null, null);
    const stream = await new Promise<Readable>((resolve, reject) =>
      zip.openReadStream(entry, (err, s) => (err ? reject(zipError(err)) : resolve(s!))),
    );
    // yauzl inflates ahead before a reader is attached; its errors must not go unheard meanwhile.
    let early: Error | null = null;
    stream.on('error', (err: Error) => (early ??= err));
    const check = () => {
      if (early) throw zipError(early);
    };
    if (type === 'file') {
      try {
        return await this.entry(raw, 'file', unixMode, null, stream);
      } catch (err) {
        check();
        throw err instanceof ArchiveError ? err : zipError(err as Error);
      }
    }
    // A zip symlink stores its target as the entry's content.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of stream) {
      size += (c as Buffer).length;
      if (size > 4096) throw badEntry(raw, 'is a symlink with an over-long target');
      chunks.push(c as Buffer);
    }
    return this.entry(raw, 'symlink', unixMode, Buffer.concat(chunks).toString('utf8'), null);
  }

  /** Strips a single top-level folder, then creates and checks the deferred symlinks. */
  async finish(): Promise<string | null> {
    const tops = new Set(this.names.map((n) => n.split('/')[0]));
    let prefix: string | null = null;
    if (tops.size === 1 && this.names.some((n) => n.includes('/'))) {
      const [top] = tops;
      const st = await fs.lstat(this.abs(top)).catch(() => null);
      if (st?.isDirectory()) prefix = top;
    }
    if (prefix) {
      // Renamed first, so a child with the same name as the folder cannot collide with it.
      const tmp = this.abs(`.berth-strip-${process.pid}-${Date.now()}`);
      await fs.rename(this.abs(prefix), tmp);
      for (const child of await fs.readdir(tmp)) await fs.rename(path.join(tmp, child), this.abs(child));
      await fs.rmdir(tmp);
    }
    const made: { abs: string; raw: string }[] = [];
    for (const [name, link] of this.links) {
      const rel = prefix ? name.slice(prefix.length + 1) : name;
      if (!rel) throw badEntry(link.name, 'is a symlink in place of the top-level folder');
      const abs = this.abs(rel);
      // The folder was made in the file phase; if it is missing now, an earlier link moved it.
      const realParent = await fs.realpath(path.dirname(abs)).catch(() => null);
      if (!realParent || !this.inside(realParent)) {
        throw unsafe(link.name, 'is inside a symlink that leads outside the archive');
      }
      const real = path.join(realParent, path.basename(abs));
      if (!this.inside(await this.resolve(path.dirname(real), link.target))) {
        throw unsafe(link.name, `is a symlink to ${JSON.stringify(link.target)}, which resolves outside the archive`);
      }
      const st = await fs.lstat(real).catch(() => null);
      if (st?.isDirectory()) throw badEntry(link.name, 'is a symlink where the archive already has a folder');
      if (st) await fs.unlink(real);
      await fs.symlink(link.target, real);
      made.push({ abs: real, raw: link.name });
    }
    // Checked again once all exist: a later link can change where an earlier one points.
    for (const { abs, raw } of made) {
      if (!this.inside(await this.resolve(path.dirname(abs), await fs.readlink(abs)))) {
        throw unsafe(raw, 'is a symlink that resolves outside the archive');
      }
    }
    return prefix;
  }

  /**
   * Where `target` leads from the real folder `from`, following symlinks that exist like the
   * kernel would, and lexically past the first component that does not exist.
   */
  private async resolve(from: string, target: string, depth = 0): Promise<string> {
    if (depth > 40) return '/';
    let cur = target.startsWith('/') ? '/' : from;
    const parts = target.split('/').filter((p) => p !== '' && p !== '.');
    for (let i = 0; i < parts.length; i++) {
      if (parts[i] === '..') {
        cur = path.dirname(cur);
        continue;
      }
      const next = path.join(cur, parts[i]);
      const st = await fs.lstat(next).catch(() => null);
      if (!st) return path.join(next, ...parts.slice(i + 1));
      cur = st.isSymbolicLink() ? await this.resolve(cur, await fs.readlink(next), depth + 1) : next;
    }
    return cur;
  }

  private inside(p: string): boolean {
    return p === this.root || p.startsWith(this.root + path.sep);
  }
}

function zipError(err: Error): ArchiveError {
  const m = err.message;
  if (/^(absolute path|invalid relative path|invalid characters in fileName)/.test(m)) {
    const entry = m.replace(/^[^:]*:\s*/, '');
    return new ArchiveError('archive_unsafe_path', `entry ${JSON.stringify(entry)} ${m.split(':')[0]}`, entry);
  }
  if (err instanceof ArchiveError) return err;
  // yauzl stops an entry that inflates past its declared size: a lying header, the bomb's trick.
  if (/^too many bytes in the stream/.test(m)) {
    return new ArchiveError('archive_bomb', `an entry expands past its declared size (${m})`);
  }
  return new ArchiveError('archive_invalid', `zip could not be read: ${m}`);
}

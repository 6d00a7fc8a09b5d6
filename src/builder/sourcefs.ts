import { constants, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';

/**
 * Source trees are untrusted: a `package.json` may be a symlink to a host file. These helpers
 * only touch regular files whose real path stays inside the tree, so nothing outside it is read
 * into a build or overwritten.
 */

async function insidePath(dir: string, rel: string): Promise<string | null> {
  try {
    const root = await fs.realpath(dir);
    const real = await fs.realpath(path.join(dir, rel));
    if (real !== root && !real.startsWith(root + path.sep)) return null;
    return real;
  } catch {
    return null;
  }
}

/** The real path and its stat, for an entry inside the tree; null when absent or outside. */
async function statInside(dir: string, rel: string): Promise<{ real: string; st: Stats } | null> {
  const real = await insidePath(dir, rel);
  if (!real) return null;
  const st = await fs.stat(real).catch(() => null);
  return st ? { real, st } : null;
}

export async function sourceFileExists(dir: string, rel: string): Promise<boolean> {
  return !!(await statInside(dir, rel))?.st.isFile();
}

export async function sourceDirExists(dir: string, rel: string): Promise<boolean> {
  return !!(await statInside(dir, rel))?.st.isDirectory();
}

/** The first `bytes` of a file (what identifies a format), or null as for readSourceFile; any size. */
export async function readSourceHead(dir: string, rel: string, bytes = 4096): Promise<string | null> {
  const found = await statInside(dir, rel);
  if (!found?.st.isFile()) return null;
  const { real, st } = found;
  const fh = await fs.open(real, 'r');
  try {
    const buf = Buffer.alloc(Math.min(bytes, st.size));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The file's text, or null when it is absent, not a regular file, outside the tree or too big. */
export async function readSourceFile(dir: string, rel: string, maxBytes = 1024 * 1024): Promise<string | null> {
  const found = await statInside(dir, rel);
  if (!found?.st.isFile() || found.st.size > maxBytes) return null;
  return fs.readFile(found.real, 'utf8');
}

/**
 * Writes `rel` in the tree without following a symlink planted there: an existing symlink is
 * removed first, and O_NOFOLLOW|O_EXCL makes a race lose instead of writing outside.
 */
export async function writeSourceFile(dir: string, rel: string, content: string): Promise<void> {
  const target = path.join(dir, rel);
  const parent = await insidePath(dir, path.dirname(rel));
  if (!parent) throw new Error(`refusing to write ${rel}: its folder is outside the source`);
  const st = await fs.lstat(target).catch(() => null);
  if (st?.isDirectory()) throw new Error(`refusing to write ${rel}: it is a folder`);
  if (st) await fs.unlink(target);
  const fh = await fs.open(
    path.join(parent, path.basename(rel)),
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
}

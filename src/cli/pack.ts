import { promises as fs } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { run } from '../lib/exec.js';

/** One gitignore-style rule (the common subset: *, **, ?, leading /, trailing /, !). */
interface Rule {
  re: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

function globToRegex(p: string): string {
  let re = '';
  for (let i = 0; i < p.length; ) {
    if (p.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 3;
    } else if (p.startsWith('/**', i) && i + 3 === p.length) {
      re += '/.*';
      i += 3;
    } else if (p.startsWith('**', i)) {
      re += '.*';
      i += 2;
    } else if (p[i] === '*') {
      re += '[^/]*';
      i++;
    } else if (p[i] === '?') {
      re += '[^/]';
      i++;
    } else {
      re += p[i].replace(/[.+^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  return re;
}

export function parseIgnore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (let line of text.split(/\r?\n/)) {
    line = line.replace(/(?<!\\)\s+$/, '');
    if (!line || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\')) line = line.slice(1);
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.slice(0, -1);
    // A slash anywhere but the end anchors the pattern at the root; otherwise it matches at any depth.
    const anchored = line.includes('/');
    line = line.replace(/^\//, '');
    if (!line) continue;
    const body = globToRegex(line);
    rules.push({ re: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`), negate, dirOnly });
  }
  return rules;
}

/** Whether `path` (relative, "/"-separated) is ignored; a file in an ignored folder is ignored too. */
export function isIgnored(rules: Rule[], path: string, isDir: boolean): boolean {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    if (matches(rules, parts.slice(0, i).join('/'), true)) return true;
  }
  return matches(rules, path, isDir);
}

function matches(rules: Rule[], path: string, isDir: boolean): boolean {
  let ignored = false;
  for (const r of rules) {
    if (r.dirOnly && !isDir) continue;
    if (r.re.test(path)) ignored = !r.negate;
  }
  return ignored;
}

const readIgnore = async (dir: string, name: string) => parseIgnore(await fs.readFile(join(dir, name), 'utf8').catch(() => ''));

/**
 * The files `berth deploy` sends: in a git work tree, what git would commit (tracked plus untracked
 * files not ignored by .gitignore), otherwise a walk applying the top-level .gitignore; .berthignore
 * applies in both cases. `.git` is never sent.
 */
export async function listSourceFiles(dir: string): Promise<string[]> {
  const berthignore = await readIgnore(dir, '.berthignore');
  const git = await run('git', ['-C', dir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { timeoutMs: 60_000, maxOutputBytes: 64 * 1024 * 1024 });
  let files: string[];
  if (git.code === 0) {
    files = [];
    for (const f of new Set(git.stdout.split('\0').filter(Boolean))) {
      // Tracked files deleted from the work tree are still listed by ls-files.
      const st = await fs.lstat(join(dir, f)).catch(() => null);
      if (st && (st.isFile() || st.isSymbolicLink())) files.push(f);
    }
  } else {
    const gitignore = await readIgnore(dir, '.gitignore');
    files = await walk(dir, dir, [...gitignore]);
  }
  return files.filter((f) => !f.split('/').includes('.git') && !isIgnored(berthignore, f, false)).sort();
}

async function walk(root: string, dir: string, rules: Rule[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const rel = relative(root, join(dir, e.name)).split(sep).join('/');
    if (e.name === '.git') continue;
    if (e.isDirectory()) {
      if (!isIgnored(rules, rel, true)) out.push(...(await walk(root, join(dir, e.name), rules)));
    } else if ((e.isFile() || e.isSymbolicLink()) && !isIgnored(rules, rel, false)) out.push(rel);
  }
  return out;
}

/** Packs the files (relative to dir) as a tar.gz in memory. */
export async function packTarGz(dir: string, files: string[]): Promise<Buffer> {
  const pack = tar.pack();
  const gz = pack.pipe(createGzip());
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve);
    gz.on('error', reject);
  });
  for (const f of files) {
    const full = join(dir, f);
    const st = await fs.lstat(full);
    if (st.isSymbolicLink()) {
      pack.entry({ name: f, type: 'symlink', linkname: await fs.readlink(full), mode: 0o777, mtime: st.mtime });
    } else {
      const data = await fs.readFile(full);
      await new Promise<void>((resolve, reject) =>
        pack.entry({ name: f, size: data.length, mode: st.mode & 0o777, mtime: st.mtime }, data, (err) => (err ? reject(err) : resolve())),
      );
    }
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

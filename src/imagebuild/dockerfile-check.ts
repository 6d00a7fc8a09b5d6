/**
 * Reads a Dockerfile before the builder sees it and refuses what would reach outside the build's
 * own storage: a FROM or COPY --from naming an image through a transport (`docker-daemon:` is the
 * engine, which holds every tenant's images; `oci-archive:`, `dir:`, `containers-storage:` are host
 * paths), and RUN flags (`--mount` bind/cache mounts can name host directories in the builder
 * Debian 12 ships) but for a cache mount of the narrow form cacheMountRefusal() admits, when the
 * builder keeps cache mounts per project (buildah, build-cache.ts). The builder's signature policy rejects such images too, but only after it has
 * opened them: refusing here means nothing outside is ever touched.
 *
 * The reading is conservative where it cannot be exact: every physical line is taken as an
 * instruction (a heredoc's body too), and a variable in an image name must be a global ARG with
 * a default (Berth passes no build arguments), or the Dockerfile is refused.
 *
 * Where this reading and buildah's parser (openshift/imagebuilder) could split lines differently,
 * a flag could hide from it: so a Dockerfile with a byte that is not UTF-8, a control character or
 * a non-ASCII space is refused, blank lines inside a continuation are skipped as imagebuilder skips
 * them, `# escape=` counts only on the first line, and, whatever the split, every `--mount`,
 * `--network` or `--security` anywhere in the text must be a RUN flag this check read and admitted.
 */

/** Names containers/image resolves as a transport prefix (`NAME:...`). */
const TRANSPORTS = new Set(['dir', 'docker', 'docker-archive', 'docker-daemon', 'oci', 'oci-archive', 'containers-storage', 'ostree', 'sif', 'tarball', 'atomic']);

// A registry reference: [host[:port]/]path[:tag][@digest], lower-case path components.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REFERENCE = new RegExp(
  `^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?/)?${COMPONENT}(?:/${COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`,
);

export class DockerfileRefused extends Error {}

interface Instruction {
  line: number;
  keyword: string;
  rest: string;
}

export interface CheckOptions {
  /** The builder keeps cache mounts in a directory of the project's own: `RUN --mount=type=cache` is admitted. */
  cacheMounts?: boolean;
}

/** Throws DockerfileRefused naming the line and the reason. */
export function checkDockerfile(text: string, opts: CheckOptions = {}): void {
  refuseUnreadable(text);
  const globals = new Map<string, string | null>();
  const stages: string[] = [];
  let sawFrom = false;
  let admittedFlags = 0;
  for (const ins of instructions(text)) {
    const refuse = (why: string): never => {
      throw new DockerfileRefused(`Dockerfile line ${ins.line}: ${why}`);
    };
    let { keyword, rest } = ins;
    if (keyword === 'ONBUILD') {
      const inner = /^(\S+)\s*(.*)$/s.exec(rest);
      if (!inner) continue;
      keyword = inner[1]!.toUpperCase();
      rest = inner[2]!;
    }
    const { flags, args } = splitFlags(rest);
    switch (keyword) {
      case 'ARG':
        if (!sawFrom) for (const [name, value] of argDefs(args)) globals.set(name, value);
        break;
      case 'FROM': {
        sawFrom = true;
        const [image = '', as, name] = args.split(/\s+/).filter(Boolean);
        const ref = expand(image, globals, refuse);
        if (ref.toLowerCase() !== 'scratch' && !stages.includes(ref.toLowerCase())) checkImage(ref, 'FROM', refuse);
        stages.push(as?.toLowerCase() === 'as' && name ? name.toLowerCase() : `#${stages.length}`);
        break;
      }
      case 'COPY':
      case 'ADD':
        for (const f of flags) {
          const m = /^--from=(.*)$/is.exec(f);
          if (!m) continue;
          const from = unquote(m[1]!);
          if (from.includes('$')) refuse(`${keyword} --from=${from}: a variable in --from is not supported`);
          if (stages.includes(from.toLowerCase()) || /^[0-9]+$/.test(from)) continue;
          checkImage(from, `${keyword} --from`, refuse);
        }
        break;
      case 'RUN':
        for (const flag of flags) {
          const mount = /^--mount=(.*)$/s.exec(flag);
          if (!mount || !opts.cacheMounts) {
            return refuse(`RUN ${flag.split('=')[0]} is not supported by Berth's builder (mounts and network modes could reach outside the build)`);
          }
          const why = cacheMountRefusal(mount[1]!);
          if (why) refuse(`RUN --mount=${mount[1]!.slice(0, 200)}: ${why}`);
          admittedFlags++;
        }
        break;
    }
  }
  // The backstop: a flag word this reading did not see as a RUN flag is one buildah might.
  // (`--mount` without a value is no flag to buildah: it needs `--mount=`.)
  const flagWords = text.match(/--(?:mount|network|security)=/gi)?.length ?? 0;
  if (flagWords > admittedFlags) {
    throw new DockerfileRefused('Dockerfile: --mount=, --network= and --security= may appear only as flags at the start of a RUN instruction (not in comments, arguments or continuation lines)');
  }
}

/** A byte that is not UTF-8 (decoded as U+FFFD), a control character but tab and line ends, a lone CR, or a non-ASCII space. */
function refuseUnreadable(text: string): void {
  const bad = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\ufffd]|\r(?!\n)/.exec(text);
  if (!bad) return;
  const line = text.slice(0, bad.index).split('\n').length;
  const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  throw new DockerfileRefused(`Dockerfile line ${line}: U+${code} ${bad[0] === '\ufffd' ? '(a byte that is not UTF-8) ' : ''}is not allowed: only UTF-8 text with spaces, tabs and line ends`);
}

/**
 * Why a `--mount` value is refused, or null. Only a cache mount, with a target and at most an id
 * (a plain name), sharing, mode, uid, gid and ro: buildah 1.28 joins an id to its cache directory
 * without confining it (`id=../../x` escapes it: CVE-2024-9675), and `from=`, `src=` and the bind
 * options name other places. A target is joined after cleaning an absolute path, so it stays inside.
 */
export function cacheMountRefusal(value: string): string | null {
  const fields = value.split(',');
  const seen = new Map<string, string>();
  for (const field of fields) {
    const [key = '', ...rest] = field.split('=');
    const v = rest.join('=');
    if (seen.has(key)) return `${key} is given twice`;
    seen.set(key, v);
    switch (key) {
      case 'type':
        if (v !== 'cache') return 'only cache mounts (type=cache) are supported: bind, tmpfs, secret and ssh mounts are not';
        break;
      case 'target':
      case 'dst':
      case 'destination':
        if (!/^\/[A-Za-z0-9._\-/]*$/.test(v) || v.split('/').includes('..')) return `${key} must be an absolute path of letters, digits, ".", "_", "-" and "/" without ".."`;
        // Without an id the cache's folder is the target's path: "/" would be the project's whole cache directory.
        if (!v.split('/').some((part) => part !== '' && part !== '.')) return `${key} must name a folder below /`;
        break;
      case 'id':
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) return 'id must be a name of letters, digits, ".", "_" and "-" (no "/"), at most 64 characters';
        break;
      case 'sharing':
        // buildah 1.28 takes a locked cache's lock file inside the cache folder, which a build step can replace with a link out.
        if (v !== 'shared') return 'sharing must be shared (locked and private are not supported by Berth\'s builder)';
        break;
      case 'mode':
        if (!/^[0-7]{3,4}$/.test(v)) return 'mode must be octal, like 0755';
        break;
      case 'uid':
      case 'gid':
        if (!/^[0-9]{1,10}$/.test(v)) return `${key} must be a number`;
        break;
      case 'ro':
      case 'readonly':
        if (rest.length && !['true', 'false'].includes(v)) return `${key} takes no value`;
        break;
      default:
        return `${key ? `"${key}"` : 'an empty field'} is not supported in a cache mount (type, target, id, sharing, mode, uid, gid, ro)`;
    }
  }
  if (seen.get('type') !== 'cache') return 'only cache mounts (type=cache) are supported: bind, tmpfs, secret and ssh mounts are not';
  if (!['target', 'dst', 'destination'].some((k) => seen.has(k))) return 'a cache mount needs a target';
  return null;
}

function checkImage(ref: string, what: string, refuse: (why: string) => never): void {
  const prefix = /^([A-Za-z0-9_-]+):/.exec(ref)?.[1];
  if (prefix && TRANSPORTS.has(prefix.toLowerCase())) {
    refuse(`${what} ${ref}: images can come only from a registry, the stack images or this project's own builds, not through "${prefix}:"`);
  }
  if (!REFERENCE.test(ref)) refuse(`${what} ${JSON.stringify(ref)} is not an image reference`);
}

/** $NAME, ${NAME}, ${NAME:-word}, ${NAME:+word} over global ARG defaults; anything else is refused. */
function expand(value: string, globals: Map<string, string | null>, refuse: (why: string) => never): string {
  const out = value.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^${}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced, op, word, bare) => {
    const name = (braced ?? bare) as string;
    const v = globals.get(name);
    if (v === undefined || v === null) {
      if (op === '-') return word as string;
      if (op === '+') return '';
      return refuse(`FROM uses $${name}, which is no global ARG with a default (Berth passes no build arguments)`);
    }
    if (op === '+') return word as string;
    if (op === '-') return v === '' ? (word as string) : v;
    return v;
  });
  if (/[^A-Za-z0-9._\-/:@]/.test(out)) refuse(`FROM ${JSON.stringify(value)} does not resolve to an image reference`);
  return out;
}

function argDefs(args: string): [string, string | null][] {
  const defs: [string, string | null][] = [];
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)) {
    defs.push([m[1]!, m[2] === undefined ? null : unquote(m[2])]);
  }
  return defs;
}

function unquote(s: string): string {
  return /^(["']).*\1$/s.test(s) ? s.slice(1, -1) : s;
}

function splitFlags(rest: string): { flags: string[]; args: string } {
  const flags: string[] = [];
  let s = rest.trimStart();
  for (let m = /^(--\S+)\s*/.exec(s); m; m = /^(--\S+)\s*/.exec(s)) {
    flags.push(m[1]!);
    s = s.slice(m[0].length);
  }
  return { flags, args: s };
}

/** Logical lines: continuations joined (with the `# escape=` directive's character), comments dropped. */
function instructions(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  let escape = '\\';
  // The escape directive: on the first line only, where every parser reads it alike.
  lines.forEach((l, i) => {
    const d = /^[ \t]*#[ \t]*escape[ \t]*=(.*)$/i.exec(l);
    if (!d) return;
    const value = d[1]!.trim();
    if (i > 0 || (value !== '`' && value !== '\\')) throw new DockerfileRefused(`Dockerfile line ${i + 1}: an escape directive must be the first line, "# escape=\\" or "# escape=\``);
    escape = value;
  });
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (!buf && /^\s*(#|$)/.test(raw)) continue;
    if (buf && /^\s*(#|$)/.test(raw)) continue; // comments and blank lines inside a continuation are skipped, as buildah skips them
    if (!buf) start = i + 1;
    const trimmed = raw.replace(/[ \t]+$/, '');
    if (trimmed.endsWith(escape)) {
      buf += trimmed.slice(0, -1);
      continue;
    }
    buf += raw;
    push(buf, start, out);
    buf = '';
  }
  if (buf) push(buf, start, out);
  return out;
}

function push(text: string, line: number, out: Instruction[]): void {
  const m = /^\s*(\S+)\s*(.*)$/s.exec(text);
  if (m) out.push({ line, keyword: m[1]!.toUpperCase(), rest: m[2]! });
}

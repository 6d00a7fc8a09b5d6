import { DetectionError } from './errors.js';
import { quote } from './node-version.js';
import { composerConstraint } from './composer-version.js';
import type { LangLine, VersionedLanguage } from '../config-stacks.js';
import type { VersionRequest } from './detect.js';

export type { VersionRequest };

export interface StackChoice {
  /** The stack image the generated Dockerfile builds FROM. */
  image: string;
  /** One line for the build log and the Dockerfile's header: the version and why it was chosen. */
  why: string;
  /** The chosen line, or null for an operator's image (what it carries is the operator's business). */
  line: LangLine | null;
}

const NAMES: Record<VersionedLanguage, string> = { python: 'Python', go: 'Go', ruby: 'Ruby', php: 'PHP', java: 'Java' };
const ASKED_FROM: Record<VersionedLanguage, string> = {
  python: 'no .python-version, runtime.txt or requires-python in pyproject.toml',
  go: 'no go line in go.mod',
  ruby: 'no ruby line in the Gemfile, no .ruby-version',
  php: 'no require.php in composer.json',
  java: 'no java.runtime.version in system.properties, no release or target in pom.xml or the Gradle build',
};

type Version = number[];
interface Clause {
  op: string;
  version: Version;
  /** `==3.11.*`: a prefix, not an exact release. */
  wildcard: boolean;
}

/**
 * Picks the Python, Go, Ruby, PHP or Java line for an app, as chooseNode does for Node.js: the newest line this
 * server builds with that satisfies what the app asked for, or the default (the newest line, Java's 21) when it
 * asked for nothing. A version no line satisfies fails the build at once, naming the file, the
 * version asked and the versions on offer.
 *
 * What a request means is each ecosystem's own: a bare version (`.python-version`, `runtime.txt`,
 * `.ruby-version`, Gemfile `ruby "3.3.8"`) names its line (`3` any 3.x), as pyenv and rbenv read it;
 * requires-python is a PEP 440 specifier set and a Gemfile's requirements are RubyGems ones, both
 * checked against each line's release, as is composer.json's require.php, a Composer constraint
 * (composer-version.ts; there a bare version is an exact release, as Composer reads it). go.mod's `go` line is a minimum (a newer toolchain builds the
 * module, Go's own rule), and its `toolchain` line names the Go the module was last worked on with:
 * that line when this server has it, else the newest that meets the minimum.
 */
export function chooseVersion(language: VersionedLanguage, request: VersionRequest | null, lines: LangLine[] | null, pinned: string): StackChoice {
  const name = NAMES[language];
  const env = `BERTH_STACK_${language.toUpperCase()}`;
  if (!lines) {
    const note = request ? `; ${request.file} asks for ${quote(request.asked)}, which that image decides` : '';
    return { image: pinned, why: `${name} from ${pinned} (${env}, the operator's image for every ${name} app)${note}`, line: null };
  }
  const label = (l: LangLine) => `${name} ${l.line} (${l.source})`;
  const offered = `this server builds with ${name} ${lines.map((l) => l.line).join(', ')}`;
  const fallback = lines.find((l) => l.default) ?? lines[0]!;
  if (!request) return { image: fallback.image, why: `${label(fallback)}, the default (${ASKED_FROM[language]})`, line: fallback };
  if (request.asked.length > 100) throw new DetectionError(`${request.file} asks for ${name} with ${request.asked.length} characters; a version or requirement is at most 100`);
  const refuse = (why = ''): never => {
    throw new DetectionError(`${request.file} asks for ${name} ${quote(request.asked)}${why}; ${offered}`);
  };

  if (language === 'go') return chooseGo(request, lines, label, refuse);
  if (language === 'java') return chooseJava(request, lines, fallback, label, refuse);
  const asked = request.asked.trim().replace(/^(python|ruby)-/i, '');
  let fits: (l: LangLine) => boolean;
  if (request.kind === 'composer') {
    const holds = composerConstraint(asked);
    if (!holds) refuse(', which is not a Composer version constraint (write ^8.2, >=8.1 or ~8.4.0, say)');
    fits = (l) => holds!(parse(l.version));
    const exact = /^v?\d+(\.\d+){0,3}$/.test(asked) ? `, which Composer reads as exactly ${asked} (write ^${asked.replace(/^v/, '')} or ${asked.replace(/^v/, '')}.*, say)` : '';
    if (!lines.some(fits)) refuse(exact);
  } else if (/^\d+(\.\d+){0,2}$/.test(asked)) {
    const want = parse(asked).slice(0, 2);
    fits = (l) => want.every((n, i) => parse(l.line)[i] === n);
  } else {
    const clauses = request.kind === 'pep440' ? pep440(asked) : request.kind === 'gem' ? gemRequirement(asked) : null;
    if (!clauses) refuse(language === 'python' ? ', which is not a version or a PEP 440 specifier (write 3.13, >=3.12 or ~=3.12, say)' : ', which is not a version or a requirement (write 3.3, >= 3.2 or ~> 3.3, say)');
    fits = (l) => clauses!.every((c) => holds(c, parse(l.version)));
  }
  const line = lines.find(fits) ?? refuse();
  return { image: line.image, why: `${label(line)}, the newest here that satisfies ${quote(request.asked)} from ${request.file}`, line };
}

function chooseGo(request: VersionRequest, lines: LangLine[], label: (l: LangLine) => string, refuse: (why?: string) => never): StackChoice {
  const minimum = request.go ?? '';
  const toolchain = request.toolchain ?? null;
  if (!/^1\.\d+(\.\d+)?$/.test(minimum)) refuse(', which is not a Go version (a go line says 1.24 or 1.24.2)');
  const min = parse(minimum).slice(0, 2);
  const meets = (l: LangLine) => compare(parse(l.line), min) >= 0;
  if (toolchain) {
    const m = /^go(1\.\d+)(?:\.\d+|rc\d+)?$/.exec(toolchain);
    const own = m && lines.find((l) => l.line === m[1] && meets(l));
    if (own) return { image: own.image, why: `${label(own)}, the line of go.mod's toolchain ${quote(toolchain)}`, line: own };
  }
  const line = lines.find(meets) ?? refuse(' or newer');
  const also = toolchain ? `; its toolchain ${quote(toolchain)} is not a line here` : '';
  return { image: line.image, why: `${label(line)}, the newest here, as go.mod's go ${quote(minimum)} is a minimum${also}`, line };
}

/**
 * Java: system.properties' java.runtime.version (Heroku's convention) names a major line: `21`,
 * `21.0.2` or the old `1.8` for 8. pom.xml's release or target (kind 'minimum') is the bytecode level
 * the app is compiled for, which any newer JDK runs: the default line when it meets it, else the
 * newest that does.
 */
function chooseJava(request: VersionRequest, lines: LangLine[], fallback: LangLine, label: (l: LangLine) => string, refuse: (why?: string) => never): StackChoice {
  const m = /^(?:1\.(\d+)|(\d+))(?:\.\d+){0,2}(?:[+_-][\w.+-]*)?$/.exec(request.asked.trim());
  if (!m) refuse(', which is not a Java version (write 21, 25 or 1.8, say)');
  const major = Number(m![1] ?? m![2]);
  if (request.kind === 'minimum') {
    const meets = (l: LangLine) => Number(l.line) >= major;
    if (meets(fallback)) return { image: fallback.image, why: `${label(fallback)}, the default, which meets ${request.file} ${quote(request.asked)} (a minimum)`, line: fallback };
    const line = lines.find(meets) ?? refuse(' or newer');
    return { image: line.image, why: `${label(line)}, the newest here, as ${request.file} ${quote(request.asked)} is a minimum`, line };
  }
  const line = lines.find((l) => Number(l.line) === major) ?? refuse();
  return { image: line.image, why: `${label(line)}, the newest here that satisfies ${quote(request.asked)} from ${request.file}`, line };
}

function parse(v: string): Version {
  return v.split('.').map((p) => Number.parseInt(p, 10) || 0);
}

/** Release order with missing parts as zeros (PEP 440 and RubyGems both pad). */
function compare(a: Version, b: Version): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const prefix = (v: Version, p: Version) => p.every((n, i) => (v[i] ?? 0) === n);

function holds(c: Clause, v: Version): boolean {
  const d = compare(v, c.version);
  switch (c.op) {
    case '==':
    case '=':
    case '===':
      return c.wildcard ? prefix(v, c.version) : d === 0;
    case '!=':
      return c.wildcard ? !prefix(v, c.version) : d !== 0;
    case '>=':
      return d >= 0;
    case '<=':
      return d <= 0;
    case '>':
      return d > 0;
    case '<':
      return d < 0;
    default:
      return false;
  }
}

/** `~=3.11` is `>=3.11, ==3.*`; `~> 3.3` (RubyGems) the same. */
function compatible(version: Version): Clause[] {
  return [
    { op: '>=', version, wildcard: false },
    { op: '==', version: version.slice(0, Math.max(1, version.length - 1)), wildcard: true },
  ];
}

/** A PEP 440 specifier set (`>=3.10,<3.14`, `~=3.12`, `==3.11.*`), or null when it is not one. */
function pep440(text: string): Clause[] | null {
  const out: Clause[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(~=|===|==|!=|<=|>=|<|>)\s*(\d+(?:\.\d+)*)(\.\*)?\s*$/.exec(part);
    if (!m) return null;
    const version = parse(m[2]!);
    if (m[1] === '~=') {
      if (m[3] || version.length < 2) return null;
      out.push(...compatible(version));
    } else out.push({ op: m[1]!, version, wildcard: Boolean(m[3]) && (m[1] === '==' || m[1] === '!=') });
  }
  return out;
}

/** A Gemfile `ruby` line's requirements, joined with commas (`>= 3.1, < 3.4`, `~> 3.3.0`). */
function gemRequirement(text: string): Clause[] | null {
  const out: Clause[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(~>|=|!=|<=|>=|<|>)?\s*(\d+(?:\.\d+)*)\s*$/.exec(part);
    if (!m) return null;
    const version = parse(m[2]!);
    if (m[1] === '~>') out.push(...compatible(version));
    // A bare version in a list is an exact one; alone, the caller has taken it as its line already.
    else out.push({ op: m[1] ?? '=', version, wildcard: false });
  }
  return out;
}

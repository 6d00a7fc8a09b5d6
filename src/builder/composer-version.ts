/**
 * Composer's version constraints, as composer.json's `require.php` writes them, read the way
 * Composer reads them (getcomposer.org/doc/articles/versions.md): `||` (or `|`) between
 * alternatives, a comma or a space between constraints that must all hold; `^8.2` (up to the next
 * major), `~8.4.0` (up to the next minor), `~8.2` (up to the next major), `8.4.*`, `8.1 - 8.4`
 * (inclusive, a partial upper end meaning its whole line), comparisons (`>=8.1`, `<9`, `!=8.3.0`)
 * and a bare version, which is that exact release (`8.4` is 8.4.0). Stability flags (`@dev`) and
 * pre-releases are not PHP versions a server runs, so such text is not read as a constraint.
 */
export type Version = number[];

/** A predicate on a release (8.4.27 as [8, 4, 27]), or null when the text is not a constraint. */
export function composerConstraint(text: string): ((v: Version) => boolean) | null {
  const alternatives = text.trim().split(/\s*\|\|?\s*/);
  const parsed = alternatives.map(conjunction);
  if (parsed.some((p) => p === null)) return null;
  return (v) => parsed.some((all) => all!.every((holds) => holds(v)));
}

type Check = (v: Version) => boolean;

function conjunction(text: string): Check[] | null {
  if (!text) return null;
  const range = /^(\S+)\s+-\s+(\S+)$/.exec(text);
  if (range) {
    const low = version(range[1]!);
    const high = version(range[2]!);
    if (!low || !high) return null;
    // A partial upper end covers its whole line: `8.1 - 8.4` admits 8.4.27.
    const upper: Check = high.length < 3 ? (v) => compare(v.slice(0, high.length), high) <= 0 : (v) => compare(v, high) <= 0;
    return [(v) => compare(v, low) >= 0, upper];
  }
  // `>= 8.1` is one constraint: the operator takes the version after a space.
  const atoms = text.replace(/(>=|<=|!=|==|<>|[<>=^~])\s+/g, '$1').split(/[\s,]+/).filter(Boolean);
  const checks = atoms.map(atom);
  return checks.some((c) => c === null) ? null : (checks as Check[]);
}

function atom(text: string): Check | null {
  if (text === '*' || text === 'x') return () => true;
  const m = /^(>=|<=|!=|==|<>|[<>=^~])?v?(\d+(?:\.\d+){0,3})(\.[*x])?$/i.exec(text);
  if (!m) return null;
  const op = m[1] ?? '';
  const v = version(m[2]!)!;
  if (m[3]) return op === '' ? (x) => prefix(x, v) : null;
  switch (op) {
    case '^': {
      // Up to the next change of the first part that is not zero (^0.3 is below 0.4).
      const lead = v.findIndex((n) => n !== 0);
      return (x) => compare(x, v) >= 0 && compare(x, next(v, lead === -1 ? v.length - 1 : lead)) < 0;
    }
    case '~':
      // ~8 is ^8; ~8.2 is below 9; ~8.4.0 is below 8.5.
      return (x) => compare(x, v) >= 0 && compare(x, next(v, Math.max(0, v.length - 2))) < 0;
    case '>=':
      return (x) => compare(x, v) >= 0;
    case '<=':
      return (x) => compare(x, v) <= 0;
    case '>':
      return (x) => compare(x, v) > 0;
    case '<':
      return (x) => compare(x, v) < 0;
    case '!=':
    case '<>':
      return (x) => compare(x, v) !== 0;
    default:
      return (x) => compare(x, v) === 0;
  }
}

function version(text: string): Version | null {
  const m = /^v?(\d+(?:\.\d+){0,3})$/i.exec(text);
  return m ? m[1]!.split('.').map(Number) : null;
}

/** The version with part i raised by one and the parts after it dropped (compared as zeros). */
function next(v: Version, i: number): Version {
  return [...v.slice(0, i), v[i]! + 1];
}

const prefix = (v: Version, p: Version) => p.every((n, i) => (v[i] ?? 0) === n);

/** Release order with missing parts as zeros. */
export function compare(a: Version, b: Version): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

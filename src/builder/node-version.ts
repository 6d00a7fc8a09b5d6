import semver from 'semver';
import { DetectionError } from './errors.js';
import type { NodeLine } from '../config-stacks.js';
import type { NodeManager, NodeRequest } from './detect.js';

export type { NodeRequest };

export interface NodeChoice {
  /** The stack image the generated Dockerfile builds FROM. */
  image: string;
  /** One line for the build log and the Dockerfile's header: the version and why it was chosen. */
  why: string;
  /** The chosen line, or null for an operator's image (what it carries is the operator's business). */
  line: NodeLine | null;
}

// nvm's names for LTS lines (.nvmrc may say lts/jod).
const LTS_NAMES: Record<string, number> = { hydrogen: 18, iron: 20, jod: 22, krypton: 24 };
const NEWEST = new Set(['node', 'latest', 'current', 'stable', 'lts/*']);

/**
 * Picks the Node.js line for an app: the newest line this server builds with that satisfies what
 * the app asked for (a semver range, as npm reads engines.node), or the default (the newest LTS)
 * when it asked for nothing. A version no line satisfies fails the build at once, naming the file,
 * the version asked and the versions on offer, instead of building on a Node.js the app did not want.
 */
export function chooseNode(request: NodeRequest | null, lines: NodeLine[] | null, pinned: string): NodeChoice {
  if (!lines) {
    const note = request ? `; ${request.file} asks for ${quote(request.asked)}, which that image decides` : '';
    return { image: pinned, why: `Node.js from ${pinned} (BERTH_STACK_NODE, the operator's image for every Node.js app)${note}`, line: null };
  }
  const offered = () => `this server builds with Node.js ${lines.map((l) => l.version).join(', ')}`;
  if (!request) {
    return { image: lines[0]!.image, why: `Node.js ${lines[0]!.version}, the default (no engines.node in package.json, no .nvmrc or .node-version)`, line: lines[0]! };
  }
  const asked = request.asked.trim().toLowerCase().replace(/^v(?=\d)/, '');
  // semver's range parser is slow on long input, and this is a tenant's text on the control plane.
  if (asked.length > 100) throw new DetectionError(`${request.file} asks for Node.js with ${asked.length} characters; a version or range is at most 100`);
  let range: string | null;
  if (NEWEST.has(asked)) range = '*';
  else if (asked.startsWith('lts/')) {
    const major = LTS_NAMES[asked.slice(4)];
    if (major === undefined) throw new DetectionError(`${request.file} asks for Node.js ${quote(request.asked)}, an LTS name this server does not know; ${offered()}`);
    range = `${major}.x`;
  } else if (semver.valid(asked)) {
    // An exact version (`node -v > .nvmrc`) means its line, at that version or newer: lines here
    // carry one patch release each, and refusing 22.11.0 for 22.23.5 would help no one.
    range = `^${asked}`;
  } else range = semver.validRange(asked);
  if (range === null) {
    throw new DetectionError(`${request.file} asks for Node.js ${quote(request.asked)}, which is not a version or a range (write 22, 22.x or >=22, say); ${offered()}`);
  }
  const best = semver.maxSatisfying(
    lines.map((l) => l.version),
    range,
  );
  const line = lines.find((l) => l.version === best);
  if (!line) throw new DetectionError(`${request.file} asks for Node.js ${quote(request.asked)}; ${offered()}`);
  return { image: line.image, why: `Node.js ${line.version}, the newest here that satisfies ${quote(request.asked)} from ${request.file}`, line };
}

/** Yarn and pnpm run through Corepack: a line without it fails the build now, not at its install step. */
export function checkManager(choice: NodeChoice, manager: NodeManager): void {
  if (manager === 'npm' || !choice.line || choice.line.corepack) return;
  const name = manager === 'pnpm' ? 'pnpm' : 'Yarn';
  throw new DetectionError(`the app installs with ${name}, which Berth runs through Corepack, and its Node.js ${choice.line.version} stack has none: ask for Node.js 22 or newer`);
}

/** User text in a log line: one line, bounded. */
export function quote(text: string): string {
  return JSON.stringify(text.replace(/[\0-\x1f\x7f]/g, ' ').slice(0, 80));
}

/** The unprivileged user apps run as when their image would run them as root (hardening.ts). */
export const NOBODY = '65534:65534';

/** Who an image's processes run as, resolved to numbers (from the image's own /etc/passwd and /etc/group for names). */
export interface ImageUser {
  /** The image's USER as written ("" when it names none). */
  declared: string;
  /** The engine's User setting to run with: numeric "uid" or "uid:gid"; NOBODY when the image's user is uid 0. */
  runAs: string;
  /** The declared user is uid 0, whatever it is called ("", root, 0, 0000, a passwd name with uid 0). */
  root: boolean;
}

/** A USER the image's own files cannot resolve: the engine would not start it either. */
export class ImageUserError extends Error {}

const MAX_ID = 2 ** 32 - 2;

/** What a USER needs from the image's files: null when it is numeric throughout. */
export function needsLookup(declared: string): { passwd: boolean; group: boolean } {
  const [user = '', group] = declared.trim().split(':');
  return { passwd: user !== '' && !/^\d+$/.test(user), group: group !== undefined && group !== '' && !/^\d+$/.test(group) };
}

function numeric(raw: string, what: string): number {
  // Leading zeros are still a number: "0000" is uid 0, as the kernel sees it.
  const n = Number.parseInt(raw, 10);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID) throw new ImageUserError(`${what} ${JSON.stringify(raw)} is not a valid id`);
  return n;
}

/** The id of a name in a passwd or group file (name:x:id:...), or undefined. */
function lookup(file: string | null, name: string): { id: number; gid?: number } | undefined {
  for (const line of (file ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2])) return { id: numeric(f[2], 'id'), gid: f[3] && /^\d+$/.test(f[3]) ? numeric(f[3], 'gid') : undefined };
  }
  return undefined;
}

/**
 * Resolves a Docker USER ("", name, uid, name:group, uid:gid) to numbers, reading names from the
 * image's own files, so the check for root is by uid: `0000`, `00:00` or a passwd entry with uid 0
 * under another name is root too. The result is what the engine runs with: numeric, so nothing
 * the container can write (a volume over /etc) changes who it runs as.
 */
export function resolveImageUser(declared: string, files: { passwd: string | null; group: string | null }): ImageUser {
  const trimmed = declared.trim();
  const [userPart = '', groupPart] = trimmed.split(':');
  if (trimmed.split(':').length > 2) throw new ImageUserError(`USER ${JSON.stringify(declared)} is not user or user:group`);
  let uid: number;
  if (userPart === '') uid = 0;
  else if (/^\d+$/.test(userPart)) uid = numeric(userPart, 'uid');
  else {
    const entry = lookup(files.passwd, userPart);
    if (!entry) throw new ImageUserError(`USER ${JSON.stringify(declared)}: "${userPart}" is not in the image's /etc/passwd`);
    uid = entry.id;
  }
  if (uid === 0) return { declared, runAs: NOBODY, root: true };
  let gid: number | undefined;
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = numeric(groupPart, 'gid');
    else {
      const entry = lookup(files.group, groupPart);
      if (!entry) throw new ImageUserError(`USER ${JSON.stringify(declared)}: group "${groupPart}" is not in the image's /etc/group`);
      gid = entry.id;
    }
  } else if (!/^\d+$/.test(userPart)) {
    // A name's primary group, as the engine would take it from the same entry.
    gid = lookup(files.passwd, userPart)?.gid;
  }
  return { declared, runAs: gid === undefined ? String(uid) : `${uid}:${gid}`, root: false };
}

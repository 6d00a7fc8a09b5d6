import type { RuntimeApi } from './runtime.js';

/** One server slot as the running HAProxy has it. */
export interface ServerNow {
  addr: string;
  port: number;
  /** SRV_ADMF_* bits; 4 (configured disabled) stays set after `state ready`, so it is ignored. */
  admin: number;
}

export const isReady = (s: ServerNow) => (s.admin & ~4) === 0;
export const isDrain = (s: ServerNow) => (s.admin & (8 | 16)) !== 0 && (s.admin & (1 | 2 | 32 | 64)) === 0;

/** `show servers state`: "be/sN" -> slot. */
export async function readServers(api: RuntimeApi): Promise<Map<string, ServerNow>> {
  const out = new Map<string, ServerNow>();
  for (const line of (await api.send('show servers state')).split('\n')) {
    const f = line.split(' ');
    // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_port (index 18)
    if (f.length < 19 || line.startsWith('#')) continue;
    out.set(`${f[1]}/${f[3]}`, { addr: f[4], admin: Number(f[6]), port: Number(f[18]) });
  }
  return out;
}

/** `show map <file>`: key -> value. */
export async function readMap(api: RuntimeApi, file: string): Promise<Map<string, string>> {
  const text = await api.send(`show map ${file}`);
  if (/Unknown map/.test(text)) throw new Error(`haproxy does not know the map ${file}`);
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^0x[0-9a-f]+ (\S+) (.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

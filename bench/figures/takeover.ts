import { randomBytes } from 'node:crypto';
import type { TestServer } from '../../test/support/server.js';
import type { Bench } from '../support/context.js';
import { timeUntil } from '../support/context.js';
import { row, type Row } from '../support/report.js';
import { settledRssMb } from '../support/rss.js';

const KILLS = Number(process.env.BENCH_TAKEOVER_KILLS ?? 10);
/** The lease's life (src/server/main.ts): a killed leader's lease cannot pass sooner. */
const LEASE_TTL_MS = 6000;

/**
 * Two control planes on one PostgreSQL: kill -9 the leader, time until the other holds the lease
 * (as GET /api/v1/cluster/control-planes on the survivor says), start the killed one again as a
 * follower; KILLS times. The floor is the lease's life: the survivor may take it only once the dead
 * leader's last renewal (every 2 s) has expired, and it tries every second.
 */
export async function takeover(b: Bench): Promise<Row[]> {
  const env = { BERTH_SECRET_KEY: randomBytes(32).toString('base64') };
  const a = await b.startServer('postgres', env);
  const self = async (s: TestServer) => (await s.admin.call('listControlPlanes')).items.find((p) => p.self)!.id;
  const leaderSeenBy = async (s: TestServer) => (await s.admin.call('listControlPlanes')).leader?.id;
  const aId = await self(a);
  await timeUntil(performance.now(), async () => (await leaderSeenBy(a)) === aId, 'the first instance to lead', 30_000, 50);
  const c = await b.startPeer(a, env);
  const times: number[] = [];
  let [leader, other] = [a, c];
  for (let i = 0; i < KILLS; i++) {
    const otherId = await self(other);
    await leader.kill();
    const ms = await timeUntil(performance.now(), async () => (await leaderSeenBy(other)) === otherId, 'the survivor to take the lease', 30_000, 20);
    times.push(ms);
    await leader.start();
    [leader, other] = [other, leader];
  }
  times.sort((x, y) => x - y);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
  // Idle memory per instance once both have settled after the last takeover: the leader runs the
  // controllers, the follower only the API, the router and its lease attempts.
  const [leaderMb, followerMb] = await Promise.all([settledRssMb(other.pid!), settledRssMb(leader.pid!)]);
  const single = await b.startServer('postgres', env);
  const singleMb = await settledRssMb(single.pid!);
  const note = `${KILLS} kills: p50 ${pct(50).toFixed(0)} ms, p99 ${pct(99).toFixed(0)} ms, min ${times[0].toFixed(0)} ms; goal: under 10 s`;
  return [
    row({ group: 'control-plane', figure: 'leader takeover after kill -9 (p50)', unit: 'ms', berth: pct(50), baseline: LEASE_TTL_MS, baselineName: 'the lease TTL (renewed every 2 s)', better: 'lower', note }),
    row({ group: 'control-plane', figure: 'leader takeover after kill -9 (p99)', unit: 'ms', berth: pct(99), baseline: LEASE_TTL_MS, baselineName: 'the lease TTL (renewed every 2 s)', better: 'lower', note }),
    row({ group: 'control-plane', figure: 'idle memory, the leader of two instances', unit: 'MB', berth: leaderMb, baseline: singleMb, baselineName: 'one instance alone on PostgreSQL', better: 'lower' }),
    row({ group: 'control-plane', figure: 'idle memory, the follower of two instances', unit: 'MB', berth: followerMb, baseline: singleMb, baselineName: 'one instance alone on PostgreSQL', better: 'lower' }),
  ];
}

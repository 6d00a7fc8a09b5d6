/**
 * Starts the HAProxy of a data directory with some routes from a process of its own, which then
 * exits: as a control plane does before an upgrade or a restart. The HAProxy it leaves has init
 * for parent, not the process that adopts it next.
 * Usage: node dist/test/router/start-elsewhere.js '{"opts": HaproxyRouterOptions, "routes": Route[]}'
 */
import { HaproxyRouter, type HaproxyRouterOptions } from '../../src/router/haproxy/router.js';
import type { Route } from '../../src/router/types.js';

const { opts, routes } = JSON.parse(process.argv[2] ?? '{}') as { opts: HaproxyRouterOptions; routes: Route[] };
const router = new HaproxyRouter(opts);
await router.apply(routes);
router.close();
console.log(router.proc.livePid());

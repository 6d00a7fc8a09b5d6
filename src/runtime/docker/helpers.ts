import { helperCreateOptions } from '../hardening.js';
import type { HelperSpec } from '../types.js';
import type { EngineClient } from './client.js';

/** Creates a root helper on Berth's helper image (hardening.ts) without making its volumes; returns its id. */
export async function createHelperContainer(engine: EngineClient, spec: HelperSpec, helperImage: string): Promise<string> {
  const body = helperCreateOptions(spec, helperImage);
  const c = await engine.call('create container', (abortSignal) => engine.api.createContainer({ ...body, abortSignal }));
  return c.id;
}

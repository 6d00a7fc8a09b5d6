import type { ControllerDeps } from './deps.js';
import type { BuildRow } from '../store/builds.js';
import { vendorById } from '../store/vendors.js';
import { repoProblem } from '../domain/vendors.js';

export class VendorAccountError extends Error {}

/**
 * The clone credentials of a git build's vendor account, opened only now and only for the
 * account's own host. They go to git as an Authorization header in its environment
 * (src/builder/git.ts), never into a URL, argv, the build log or the image build.
 */
export async function vendorCredentials(ctx: ControllerDeps, build: BuildRow): Promise<{ vendor: string; username: string; password: string } | undefined> {
  if (!build.vendor_id) return undefined;
  const v = await vendorById(ctx.db, build.vendor_id);
  if (!v) throw new VendorAccountError('the vendor account of this source was removed; set the source again with another account');
  const problem = repoProblem(build.repo_url ?? '', v);
  if (problem) throw new VendorAccountError(`repo_url ${problem}`);
  return { vendor: v.vendor, username: v.username, password: ctx.secrets.open(v.token_sealed) };
}

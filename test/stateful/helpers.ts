import assert from 'node:assert/strict';
import { ApiError } from '../../src/client/index.js';

/** Asserts the call fails with this status and names this field. */
export async function rejectsWith(p: Promise<unknown>, status: number, field: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal((err.details as { field?: string } | undefined)?.field, field, err.message);
    return true;
  });
}

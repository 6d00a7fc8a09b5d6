import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectable, neededImages, type AppImages } from '../../src/domain/images.js';

/** Which images garbage collection keeps, release by release (no engine). */
describe('image garbage collection: what is kept', () => {
  const app = (n: number, live: number, opts: Partial<AppImages> = {}): AppImages => ({
    appId: 'a',
    projectId: 'p',
    liveReleaseId: `r${live}`,
    targetReleaseId: `r${live}`,
    releases: Array.from({ length: n }, (_, i) => ({
      id: `r${i + 1}`,
      version: i + 1,
      image: `berth/a:${i + 1}`,
      status: i + 1 === live ? 'live' : i + 1 < live ? 'superseded' : 'failed',
    })),
    builds: Array.from({ length: n }, (_, i) => ({ id: `b${n - i}`, image: `berth/a:${n - i}`, releaseId: `r${n - i}` })),
    releasesWithContainers: [`r${live}`],
    ...opts,
  });

  test('after each of 15 deploys: the last N releases, the live one and the rollback target, nothing else', () => {
    for (let n = 1; n <= 15; n++) {
      const a = app(n, n);
      const keep = [...neededImages(a, 10)].sort();
      const want = Array.from({ length: Math.min(n, 10) }, (_, i) => `berth/a:${n - i}`).sort();
      assert.deepEqual(keep, want, `after deploy ${n}`);
      assert.deepEqual(collectable([a], [a], 10), Array.from({ length: Math.max(0, n - 10) }, (_, i) => `berth/a:${i + 1}`).sort());
    }
  });

  test('a live release older than the last N, its rollback target and a standby set are kept', () => {
    // v3 live after later releases failed; v2 is what a rollback goes back to; v1 has a stopped standby set.
    const a = app(15, 3, { releasesWithContainers: ['r3', 'r1'] });
    const keep = neededImages(a, 2);
    for (const img of ['berth/a:15', 'berth/a:14', 'berth/a:3', 'berth/a:2', 'berth/a:1']) assert.ok(keep.has(img), img);
    assert.equal(keep.size, 5);
  });

  test('an unreleased build among the last N is kept; images another app needs and images Berth did not make stay', () => {
    const a = app(3, 3);
    a.builds.unshift({ id: 'b4', image: 'berth/a:4', releaseId: null });
    assert.ok(neededImages(a, 2).has('berth/a:4'));
    const shared: AppImages = { ...app(1, 1), appId: 'b', releases: [{ id: 'x1', version: 1, image: 'registry.example.com/t/img:1', status: 'live' }], builds: [], liveReleaseId: 'x1', targetReleaseId: 'x1' };
    const user: AppImages = {
      ...app(0, 0),
      appId: 'c',
      releases: [
        { id: 'y1', version: 1, image: 'registry.example.com/t/img:1', status: 'superseded' },
        { id: 'y2', version: 2, image: 'nginx:latest', status: 'superseded' },
        { id: 'y3', version: 3, image: 'registry.example.com/t/img:3', status: 'superseded' },
        { id: 'y4', version: 4, image: 'registry.example.com/t/img:4', status: 'live' },
      ],
      builds: [],
      liveReleaseId: 'y4',
      targetReleaseId: 'y4',
      releasesWithContainers: ['y4'],
    };
    // keep 1: c needs v4 and its rollback target v3; img:1 is needed by b; nginx:latest was not pulled by Berth.
    assert.deepEqual(collectable([user], [user, shared], 1), []);
    assert.deepEqual(collectable([user], [user], 1), ['registry.example.com/t/img:1']);
  });
});

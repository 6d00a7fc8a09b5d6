import { test } from 'node:test';
import assert from 'node:assert/strict';
import { previewRow } from '../../src/api/handlers/previews.js';
import type { AppRow } from '../../src/store/apps.js';

const parent: AppRow = {
  id: 'app_parent', project_id: 'prj_1', name: 'site', slug: 'site', image: 'berth/app_parent:3', replicas: 3, memory_mb: 256, cpu: 0, port: 8080,
  strategy: 'recreate', health_check: { path: '/', timeout_s: 60, grace_s: 0 }, env: { PLAIN: { v: 'p' }, KEY: { v: 'sealed', s: 1 } }, release_id: 'rel_1', live_release_id: 'rel_1',
  stopped: 0, restart_seq: 0, auto_deploy: 1, drain_timeout_s: 30, volumes: [{ volume: 'v', volume_id: 'vol_1', path: '/data' }],
  release_command: ['sh', '-c', 'migrate'], placement: { constraints: ['node.hostname==db1'] }, created_at: '', updated_at: '',
};

test('a preview of an app with volumes gets no volumes, no release command, no secrets and not the placement that pins it to them', () => {
  const p = previewRow(parent, 'site-pr-1', false);
  assert.deepEqual([p.volumes, p.release_command, p.placement, p.replicas, p.image], [[], null, null, 1, null]);
  assert.deepEqual(Object.keys(p.env), ['PLAIN']);
  assert.notEqual(p.id, parent.id);
  assert.deepEqual(Object.keys(previewRow(parent, 'site-pr-1', true).env).sort(), ['KEY', 'PLAIN'], 'secrets only when the owner opted in');
});

test('a preview of an app without volumes keeps its placement', () => {
  const p = previewRow({ ...parent, volumes: [] }, 'site-pr-2', false);
  assert.equal(p.placement, parent.placement);
});

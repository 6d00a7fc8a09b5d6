import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unmetBy, volumePin } from '../../src/runtime/swarm/volume-placement.js';

// Which user constraints the node of Berth's volumes (the manager) cannot meet, by Swarm's rules
// (test/cluster/stateful.test.ts checks the same through the API on a real Swarm).

const node = { id: 'abc123', hostname: 'node0', labels: { disk: 'ssd' } };

test('the pin names the node by id', () => {
  assert.equal(volumePin('abc123'), 'node.id==abc123');
});

test('constraints the manager meets, or that cannot be told here, pass', () => {
  for (const c of ['node.role==manager', 'node.role != worker', 'node.id==abc123', 'node.hostname==NODE0', 'node.labels.disk==SSD', 'node.labels.zone!=a', 'node.platform.os==linux', 'engine.labels.x==y']) {
    assert.equal(unmetBy(c, node), null, c);
  }
});

test('constraints it cannot meet say why, naming the node and the constraint', () => {
  assert.match(unmetBy('node.role==worker', node) ?? '', /runs on node0 \(node\.id==abc123\).*is a manager, so "node\.role==worker"/);
  assert.match(unmetBy('node.role!=manager', node) ?? '', /is a manager/);
  assert.match(unmetBy('node.id==other', node) ?? '', /has id abc123/);
  assert.match(unmetBy('node.hostname!=node0', node) ?? '', /has hostname node0/);
  assert.match(unmetBy('node.labels.zone==a', node) ?? '', /has no label zone/);
  assert.match(unmetBy('node.labels.disk!=ssd', node) ?? '', /has the label disk=ssd/);
});

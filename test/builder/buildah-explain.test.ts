import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explain, stacksNamed } from '../../src/imagebuild/buildah.js';

const failedStep = (...output: string[]) => [
  'STEP 2/5: RUN ./make-many-processes',
  ...output,
  'Error: building at STEP "RUN ./make-many-processes": while running runtime: exit status 1',
];

test('a step that failed says which step and its code', () => {
  assert.equal(explain(failedStep('npm ERR! missing script: build')), 'step "RUN ./make-many-processes" returned a non-zero code: 1');
});

test('a step stopped by the process cap says so, whoever met the cap (bash or the runtime)', () => {
  const byBash = explain(failedStep('bash: fork: retry: Resource temporarily unavailable', 'bash: fork: Cannot fork'));
  const byRuntime = explain(failedStep('error running container: reading container state from /usr/bin/runc (got output: ""): fork/exec /usr/bin/runc: resource temporarily unavailable'));
  for (const said of [byBash, byRuntime]) assert.match(said, /returned a non-zero code: 1: the build reached its limit on processes \(BERTH_BUILD_PIDS\)$/);
});

test('an image the build may not see is named, with what builds can see', () => {
  assert.match(explain(['Error: creating build container: berth/other:3: image not known']), /^image berth\/other:3 is not available to this build/);
});

test('a build copies into its store only the stack images it names, or all when an image is an ARG', () => {
  const stacks = ['berth/stack-go:1.25-trixie', 'berth/stack-go:1.27-trixie', 'berth/base:bookworm', 'berth/stack-python:bookworm'];
  const twoStages = 'FROM berth/stack-go:1.25-trixie AS build\nRUN go build\n\nfrom --platform=linux/amd64 berth/base:bookworm\n';
  assert.deepEqual(stacksNamed(twoStages, stacks), ['berth/stack-go:1.25-trixie', 'berth/base:bookworm']);
  assert.deepEqual(stacksNamed('FROM debian:13\n', stacks), []);
  assert.deepEqual(stacksNamed('FROM debian:13\nCOPY --from=berth/stack-python:bookworm /usr/bin/python3 /x\n', stacks), ['berth/stack-python:bookworm']);
  assert.deepEqual(stacksNamed('ARG BASE=berth/stack-python:bookworm\nFROM ${BASE}\n', stacks), stacks);
  assert.deepEqual(stacksNamed('ARG S=x\nFROM debian:13\nCOPY --from=$S /a /b\n', stacks), stacks);
});

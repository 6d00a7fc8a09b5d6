import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { buildArchive, builtAndAnswering, logText, packFixture, removeImages, waitBuild } from './helpers.js';

/**
 * A Java app (test/fixtures/apps/java-web: the JDK's own HTTP server, a plain pom.xml) is detected
 * by its pom.xml, built by Debian's Maven from Debian's Maven repository (no Maven Central here),
 * and run with `java -jar` on the jar it made. Each app runs on the line it asked for: the pom's
 * maven.compiler.release is a minimum the default 21 meets; system.properties names 25. The JVM's
 * heap follows the app's memory limit. A version the server does not offer fails the build before
 * anything is built; a dependency Debian does not carry is looked for in Maven Central after Debian's
 * repository, and (Central being out of reach here) fails the build naming it. Builds run side by side.
 */
describe('Java apps: Maven from Debian, java -jar, the version from system.properties or pom.xml', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slugs = ['java-web', 'java-25', 'java-17', 'java-dep'];

  before(async () => {
    s = await startServer();
    dev = await s.newUser('javaer');
    await dev.call('createApp', { body: { name: 'java-web', memory: 512 } });
    await dev.call('createApp', { body: { name: 'java-25' } });
    await dev.call('createApp', { body: { name: 'java-17' } });
    await dev.call('createApp', { body: { name: 'java-dep' } });
    await dev.call('setEnv', { params: { id: 'java-web' }, body: { set: { GREETING: 'from config' } } });
  });
  after(async () => {
    await s?.destroy();
    await removeImages(slugs);
  });

  test('each app runs on the line it asked for, and the build log and its Dockerfile say why', async () => {
    const cases = [
      {
        slug: 'java-web',
        source: () => packFixture('java-web'),
        answer: /^java 21\.0\.\d+$/m,
        why: 'Java 21 (Debian 13), the default, which meets pom.xml maven.compiler.release "21" (a minimum)',
      },
      {
        slug: 'java-25',
        source: () => packFixture('java-web', { 'system.properties': 'java.runtime.version=25\n' }),
        answer: /^java 25\.0\.\d+$/m,
        why: 'Java 25 (Debian 13), the newest here that satisfies "25" from system.properties',
      },
    ];
    const builds = await Promise.all(cases.map(async (c) => buildArchive(dev, c.slug, await c.source())));
    await Promise.all(
      cases.map(async (c, i) => {
        const { log, body } = await builtAndAnswering(dev, s.routerPort, c.slug, builds[i]!.id, 600_000);
        assert.ok(log.includes(`Using ${c.why}`), `${c.slug}: the log says why\n${log}`);
        assert.match(body, /^hello from java\n/, c.slug);
        assert.match(body, c.answer, `${c.slug}: ${body}`);
        // Maven built from Debian's repository, and the jar it made is the one run.
        assert.match(log, /BUILD SUCCESS/, c.slug);
        assert.match(log, /java -jar runs target\/java-web-1\.0\.0\.jar/, c.slug);
        const { dockerfile } = await dev.call('getBuildDockerfile', { params: { id: builds[i]!.id } });
        assert.ok(dockerfile?.split('\n')[0]!.endsWith(`; ${c.why}.`), `${c.slug}: the Dockerfile header says why\n${dockerfile}`);
        if (c.slug === 'java-web') {
          assert.match(body, /^GREETING=from config$/m);
          // 75% of the app's 512 MB limit (the JVM's own default would be 25%: 128 MB).
          const heap = Number(/^max heap (\d+) MB$/m.exec(body)?.[1]);
          assert.ok(heap > 256 && heap <= 384, `max heap ${heap} MB under a 512 MB limit`);
        }
      }),
    );
  });

  test('a version not offered fails before building; a dependency Debian lacks is sought in Maven Central', async () => {
    const pom = readFileSync(new URL('../../../test/fixtures/apps/java-web/pom.xml', import.meta.url), 'utf8').replace(
      '</properties>',
      '</properties>\n  <dependencies>\n    <dependency><groupId>org.example.berth</groupId><artifactId>absent</artifactId><version>1.0</version></dependency>\n  </dependencies>',
    );
    const [old, dep] = await Promise.all([
      buildArchive(dev, 'java-17', await packFixture('java-web', { 'system.properties': 'java.runtime.version=17\n' })),
      buildArchive(dev, 'java-dep', await packFixture('java-web', { 'pom.xml': pom })),
    ]);
    const b = await waitBuild(dev, old.id);
    assert.equal(b.status, 'failed');
    assert.equal(b.message, 'system.properties asks for Java "17"; this server builds with Java 25, 21');
    assert.doesNotMatch(await logText(dev, b.id), /Building image/);

    const d = await waitBuild(dev, dep.id, 600_000);
    const log = await logText(dev, d.id);
    assert.equal(d.status, 'failed', log);
    // (Maven's local repository is a cache mount of the project's: the step starts with it.)
    assert.match(d.message!, /^step "RUN (--mount=\S+ )*mvn .*" returned a non-zero code: 1$/);
    // Maven's own error names the artifact and Central, tried after Debian's repository had none.
    assert.match(log, /org\.example\.berth:absent:jar:1\.0/);
    assert.match(log, /repo\.maven\.apache\.org/);
  });
});

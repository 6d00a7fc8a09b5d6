import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { viaRouter } from '../support/load.js';
import { buildArchive, builtAndAnswering, logText, packFixture, removeImages, waitBuild } from './helpers.js';

/**
 * A PHP app (test/fixtures/apps/php-web) is detected by its composer.json, gets the PHP line its
 * require.php allows, has its dependencies installed by Composer from composer.lock (a path
 * package, so no Packagist), and is served by nginx in front of php-fpm from public/. One build
 * serves every check over HTTP through the router; a PHP version the server does not offer fails
 * the build before anything is built.
 */
describe('PHP apps: Composer, php-fpm behind nginx, the version from composer.json', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slugs = ['php-web', 'php-old'];

  before(async () => {
    s = await startServer();
    dev = await s.newUser('phper');
    for (const slug of slugs) await dev.call('createApp', { body: { name: slug } });
    // A config var set before the first build reaches PHP through php-fpm (clear_env = no).
    await dev.call('setEnv', { params: { id: 'php-web' }, body: { set: { GREETING: 'from config' } } });
  });
  after(async () => {
    await s?.destroy();
    await removeImages(slugs);
  });

  test('the app is built with Composer from its lockfile and served from public/ by php-fpm', async () => {
    const b = await buildArchive(dev, 'php-web', await packFixture('php-web'));
    const { log, body } = await builtAndAnswering(dev, s.routerPort, 'php-web', b.id, 600_000);
    const why = 'PHP 8.4 (Debian 13), the newest here that satisfies "^8.2" from composer.json';
    assert.ok(log.includes(`Using ${why}`), `the log says which PHP and why\n${log}`);
    const { dockerfile } = await dev.call('getBuildDockerfile', { params: { id: b.id } });
    assert.ok(dockerfile?.split('\n')[0]!.endsWith(`; ${why}.`), `the Dockerfile header says why\n${dockerfile}`);
    // The app's own class (PSR-4 from src/) used the path package's; the version it reports is the
    // lockfile's (the package names none itself); PHP ran under php-fpm, with the app's config var.
    assert.match(body, /^hello from php via acme\/greeter\nphp 8\.4\.\d+ fpm-fcgi\nacme\/greeter 1\.2\.3\nGREETING=from config\n$/);

    // public/ is the document root: its files are served, the app root's are not.
    const file = await viaRouter(s.routerPort, 'php-web.localhost', '/hello.txt');
    assert.equal(file.status, 200);
    assert.equal(file.body, 'a static file from public/\n');
    const secret = await viaRouter(s.routerPort, 'php-web.localhost', '/secret.txt');
    assert.equal(secret.status, 404);
    assert.doesNotMatch(secret.body, /SECRET/);
  });

  test('a PHP version the server does not offer fails the build before anything is built', async () => {
    const old = JSON.stringify({ require: { php: '^7.4' } });
    const b = await waitBuild(dev, (await buildArchive(dev, 'php-old', await packFixture('php-web', { 'composer.json': old }))).id);
    assert.equal(b.status, 'failed');
    assert.equal(b.message, 'composer.json asks for PHP "^7.4"; this server builds with PHP 8.4');
    assert.doesNotMatch(await logText(dev, b.id), /Building image/);
  });
});

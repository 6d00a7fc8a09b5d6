import Fastify from 'fastify';

/** The framework floor: a bare Fastify answering one route, with no logger. Prints its URL. */
const app = Fastify();
app.get('/', async () => ({ hello: 'world' }));
const url = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`listening at ${url}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));

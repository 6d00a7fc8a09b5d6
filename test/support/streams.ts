import { request } from 'node:http';
import { WebSocket } from 'ws';

/** A long-lived connection through the router, and what it has seen. */
export interface Stream {
  kind: 'websocket' | 'sse';
  /** Messages (WebSocket) or events (SSE) received so far. */
  received: number;
  /** The last message (the test app sends its hostname). */
  last?: string;
  /** Set once the connection ended, with why. */
  closed?: string;
  close(): void;
}

/** A WebSocket to the test app through the router; resolves once the first message arrived. */
export function openWebSocket(port: number, host: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host } });
    const s: Stream = { kind: 'websocket', received: 0, close: () => ws.terminate() };
    ws.on('message', (data) => {
      s.last = String(data);
      if (s.received++ === 0) resolve(s);
    });
    ws.on('close', (code) => (s.closed ??= `closed ${code}`));
    ws.on('error', (err) => {
      s.closed ??= `error ${err.message}`;
      reject(err);
    });
  });
}

/** An SSE stream from the test app's /sse through the router; resolves once the first event arrived. */
export function openEventStream(port: number, host: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/sse', headers: { host, accept: 'text/event-stream' }, agent: false });
    const s: Stream = { kind: 'sse', received: 0, close: () => req.destroy() };
    req.on('response', (res) => {
      if (res.statusCode !== 200) reject(new Error(`SSE answered ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const events = chunk.split('\n\n').filter((e) => e.startsWith('data:')).length;
        if (events && (s.received += events) === events) resolve(s);
      });
      res.on('end', () => (s.closed ??= 'ended'));
      res.on('error', (err) => (s.closed ??= `error ${err.message}`));
    });
    req.on('error', (err) => {
      s.closed ??= `error ${err.message}`;
      reject(err);
    });
    req.end();
  });
}

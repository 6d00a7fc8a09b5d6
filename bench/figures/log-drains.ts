import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';
import { ensureCa, issueLeaf } from '../../src/tls/ca.js';
import { DrainSender } from '../../src/controllers/drains/sender.js';
import { SyslogTransport } from '../../src/controllers/drains/transports.js';
import { octetFrame, syslogMessage, type DrainLine } from '../../src/domain/drains.js';
import { systemClock } from '../../src/controllers/deps.js';
import { parseEgressAllow } from '../../src/lib/egress.js';
import { Rsyslog } from '../../test/logs/receivers.js';
import { waitFor } from '../../test/support/wait.js';

const LINES = 100_000;
const BUFFER = 10_000;

const line = (i: number): DrainLine => ({ time: new Date().toISOString(), app: 'bench-app', process_type: 'web', replica: i % 4, stream: 'stdout', line: `GET /items/${i} 200 in 3 ms from 203.0.113.7 agent=bench/1.0` });

/** Bytes rsyslog has written: each message is one line of its output file. */
const written = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

async function intoRsyslog(r: Rsyslog, send: () => Promise<void>, expectBytes: number): Promise<number> {
  const start = written(r.out);
  const t0 = performance.now();
  await send();
  await waitFor('rsyslog to write every line', () => written(r.out) - start >= expectBytes, { timeoutMs: 300_000, intervalMs: 20 });
  return (performance.now() - t0) / 1000;
}

/**
 * Log drains: lines per second a drain delivers to Debian's rsyslogd over TLS (through the sender's
 * buffer, batches of 500), beside the same frames written by one plain TLS socket; and the control
 * plane memory a full drain buffer holds, beside the lines' own bytes.
 */
export async function logDrains(_b: Bench): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-drains-'));
  const ca = await ensureCa(join(dir, 'ca'));
  const leaf = await issueLeaf(ca, ['localhost']);
  const r = new Rsyslog(join(dir, 'rsyslog'), { caPem: ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem });
  await r.start();
  try {
    const lines = Array.from({ length: LINES }, (_, i) => line(i));
    // What rsyslog writes per message (its template: host|app|procid|msgid|sd|msg and a newline), measured on one.
    await intoRsyslog(r, async () => {
      const t = new SyslogTransport({ url: `syslog+tls://localhost:${r.port}`, ca: ca.certPem, egress: parseEgressAllow('localhost') });
      await t.send([lines[0]]);
      t.close();
    }, 1);
    const perLine = written(r.out);

    const raw = Buffer.concat(lines.map((l) => octetFrame(syslogMessage(l))));
    const baseline = await intoRsyslog(r, () => new Promise<void>((resolve, reject) => {
      const s = connect({ host: 'localhost', port: r.port, ca: ca.certPem }, () => s.end(raw, resolve));
      s.on('error', reject);
    }), perLine * LINES);

    const sender = new DrainSender(
      new SyslogTransport({ url: `syslog+tls://localhost:${r.port}`, ca: ca.certPem, egress: parseEgressAllow('localhost') }),
      { bufferLines: LINES, bufferBytes: 64 * 1024 * 1024, batchLines: 500, batchWaitMs: 0, retryBaseMs: 100, retryMaxMs: 1000, clock: systemClock },
      { last_success_at: null, last_error: null, last_error_at: null, sent: 0, dropped: 0 },
    );
    sender.start();
    const drained = await intoRsyslog(r, async () => {
      for (const l of lines) sender.push(l);
    }, perLine * LINES);
    sender.stop();

    // A full buffer's memory: the heap a sender holds with BUFFER lines waiting (nothing to send them to).
    globalThis.gc?.();
    const before = process.memoryUsage().heapUsed;
    const idle = new DrainSender({ send: () => new Promise(() => {}), close() {} }, { bufferLines: BUFFER, bufferBytes: 8 * 1024 * 1024, batchLines: 1, batchWaitMs: 0, retryBaseMs: 1000, retryMaxMs: 1000, clock: systemClock }, { last_success_at: null, last_error: null, last_error_at: null, sent: 0, dropped: 0 });
    for (let i = 0; i < BUFFER; i++) idle.push(line(i));
    globalThis.gc?.();
    const held = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    const own = lines.slice(0, BUFFER).reduce((n, l) => n + JSON.stringify(l).length, 0) / 1024 / 1024;
    idle.stop();

    return [
      row({ group: 'log-drains', figure: `syslog over TLS to rsyslogd, ${LINES.toLocaleString('en')} lines`, unit: 'lines/s', berth: LINES / drained, baseline: LINES / baseline, baselineName: 'the same frames on one plain TLS socket', better: 'higher' }),
      row({ group: 'log-drains', figure: `a full drain buffer (${BUFFER.toLocaleString('en')} lines)`, unit: 'MB', berth: held, baseline: own, baselineName: "the lines' JSON bytes", better: 'lower' }),
    ];
  } finally {
    await r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

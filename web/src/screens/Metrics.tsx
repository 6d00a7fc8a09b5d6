import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { appMetrics, type App } from '../api';
import { ErrorText } from '../ui';

const EVERY_MS = 2000;
const KEEP = 150; // five minutes of points

/**
 * Numbers of a metrics answer by their path ("requests_per_s", "responses.5xx",
 * "replicas.web-1.cpu_percent"), whatever its exact nesting: the router's traffic and each
 * replica's CPU and memory (from the container engine) land here as series.
 */
export function flatten(v: unknown, prefix = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof v === 'number' && Number.isFinite(v)) out[prefix] = v;
  else if (Array.isArray(v)) v.forEach((x, i) => flatten(x, `${prefix}.${(x as { name?: string })?.name ?? i}`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (k !== 'name' && k !== 'time') flatten(x, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** Groups series into small charts: requests, responses by class, response times, CPU, memory, the rest. */
function groupOf(path: string): string {
  // A replica's name ("timer-1") must not pick the chart: only what follows it counts.
  const key = path.replace(/^replicas\.[^.]+\./, 'replicas.');
  if (/[1-5]xx/.test(key)) return 'Responses by class (per s)';
  if (/time|latency|_ms/.test(key)) return 'Response time (ms)';
  if (/cpu/.test(key)) return 'CPU (%)';
  if (/mem/.test(key)) return 'Memory (MB)';
  if (/req|rate|per_s/.test(key)) return 'Requests per second';
  if (/session|conn/.test(key)) return 'Sessions';
  return 'Other';
}

export function Metrics({ app }: { app: App }) {
  const [series, setSeries] = useState<{ t: number[]; values: Record<string, number[]> }>({ t: [], values: {} });
  const [none, setNone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stop = false;
    const tick = async () => {
      try {
        const m = await appMetrics(app.id);
        if (stop) return;
        setNone(m === null);
        setError(null);
        if (m) {
          const flat = flatten(m);
          setSeries((s) => {
            const t = [...s.t, Date.now() / 1000].slice(-KEEP);
            const values: Record<string, number[]> = {};
            for (const k of new Set([...Object.keys(s.values), ...Object.keys(flat)])) {
              const prev = s.values[k] ?? new Array<number>(s.t.length).fill(NaN);
              values[k] = [...prev, flat[k] ?? NaN].slice(-KEEP);
            }
            return { t, values };
          });
        }
      } catch (err) {
        if (!stop) setError(err);
      }
    };
    void tick();
    const timer = setInterval(tick, EVERY_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [app.id]);

  const groups = new Map<string, string[]>();
  for (const k of Object.keys(series.values).sort()) {
    const g = groupOf(k);
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  return (
    <section aria-label="Metrics">
      <h2>Metrics</h2>
      <ErrorText error={error} />
      {none && <p role="status">No data yet: the router has not reported figures for this app.</p>}
      <div className="charts">
        {[...groups].map(([g, keys]) => (
          <Chart key={g} title={g} t={series.t} keys={keys} values={series.values} />
        ))}
      </div>
    </section>
  );
}

const COLOURS = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

function Chart({ title, t, keys, values }: { title: string; t: number[]; keys: string[]; values: Record<string, number[]> }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = keys.join('|');
  useEffect(() => {
    const width = Math.min(el.current!.clientWidth || 320, 560);
    plot.current = new uPlot(
      {
        width,
        height: 160,
        series: [{}, ...keys.map((k, i) => ({ label: k, stroke: COLOURS[i % COLOURS.length], width: 1.5 }))],
        axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor' }],
        legend: { live: false },
      },
      [t, ...keys.map((k) => values[k])],
      el.current!,
    );
    return () => plot.current?.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);
  useEffect(() => {
    plot.current?.setData([t, ...keys.map((k) => values[k])]);
  }, [t, values, keys]);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={el} />
    </figure>
  );
}

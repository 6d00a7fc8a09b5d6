import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { appMetrics, type App, type RouteOutput } from '../api';
import { ErrorText } from '../ui';

type History = RouteOutput<'getAppMetrics'>['history'];
type Series = History['series'][number];
type Values = (number | null)[];

/** The history the control plane keeps: 10 s buckets for the last hour, 1 min rollups for 14 days. */
const RANGES = [
  { label: '1 h', seconds: 3600 },
  { label: '24 h', seconds: 86_400 },
  { label: '14 d', seconds: 14 * 86_400 },
] as const;
/** The server samples every 10 s: asking more often shows nothing new; a day or more moves by the minute. */
const everyMs = (range: number) => (range > 3600 ? 60_000 : 10_000);

/**
 * A line's legend, in words: the app, a process type's replicas together, or one replica. An app
 * with web alone keeps the short names ("all replicas", "replica 0").
 */
function who(s: Series, multi: boolean): string {
  if (s.type === null) return multi ? 'whole app' : 'all replicas';
  if (s.replica === null) return `all ${s.type} replicas`;
  return multi ? `${s.type} ${s.replica}` : `replica ${s.replica}`;
}

/** One chart: its title, a note on what the figure is, and its lines (legend label, values). */
interface ChartSpec {
  title: string;
  note?: string;
  lines: { label: string; values: Values }[];
}

/**
 * What the dashboard draws from a history: the app (or the chosen process type) as a whole, and
 * per replica where it differs. Only web takes traffic: another type's charts are its use.
 */
function chartsOf(h: History): ChartSpec[] {
  const multi = h.process_types.length > 1;
  const app = h.series.find((s) => s.replica === null)!;
  const replicas = h.series.filter((s) => s.replica !== null);
  const perReplica = (pick: (s: Series) => Values) => replicas.map((s) => ({ label: who(s, multi), values: pick(s) }));
  const withApp = (pick: (s: Series) => Values) => [{ label: who(app, multi), values: pick(app) }, ...(replicas.length > 1 ? perReplica(pick) : [])];
  // The whole app of several types: its use is more than web's replicas, so it gets a line too.
  const usageLines = (pick: (s: Series) => Values) => (multi && app.type === null ? [{ label: who(app, multi), values: pick(app) }, ...perReplica(pick)] : perReplica(pick));
  const usage: ChartSpec[] = [
    { title: 'CPU (%)', note: '100 = one core busy', lines: usageLines((s) => s.cpu_percent) },
    { title: 'Memory (MB)', lines: usageLines((s) => s.memory_mb) },
    { title: 'Restarts', lines: usageLines((s) => s.restarts) },
  ];
  if (h.type !== null && h.type !== 'web') return usage;
  return [
    { title: 'Requests per second', lines: withApp((s) => s.requests_per_s) },
    {
      title: 'Responses per second by class',
      lines: (['2xx', '3xx', '4xx', '5xx'] as const).map((c) => ({ label: c, values: app.responses_per_s[c] })),
    },
    {
      title: 'Response time (ms)',
      note: 'percentiles of the requests in each bucket; over 10 s buckets, the highest of them',
      lines: [
        { label: 'p50', values: app.response_ms_p50 },
        { label: 'p95', values: app.response_ms_p95 },
        { label: 'p99', values: app.response_ms_p99 },
      ],
    },
    { title: 'Open connections', lines: withApp((s) => s.open_connections) },
    ...usage,
  ];
}

export function Metrics({ app }: { app: App }) {
  const [range, setRange] = useState<number>(RANGES[0].seconds);
  /** The process type shown; undefined: the whole app and web's replicas. */
  const [type, setType] = useState<string | undefined>(undefined);
  const [history, setHistory] = useState<History | null>(null);
  const [none, setNone] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stop = false;
    const tick = async () => {
      try {
        const from = new Date(Date.now() - range * 1000).toISOString();
        const m = await appMetrics(app.id, { from, ...(type === undefined ? {} : { type }) });
        if (stop) return;
        setNone(m === null);
        setError(null);
        setHistory(m?.history ?? null);
      } catch (err) {
        if (!stop) setError(err);
      }
    };
    void tick();
    const timer = setInterval(tick, everyMs(range));
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [app.id, range, type]);

  const sampled = history?.series.some((s) => s.requests_per_s.some((v) => v !== null) || s.memory_mb.some((v) => v !== null));
  return (
    <section aria-label="Metrics">
      <h2>Metrics</h2>
      <div role="group" aria-label="Time range" className="ranges">
        {RANGES.map((r) => (
          <button key={r.label} type="button" aria-pressed={range === r.seconds} onClick={() => setRange(r.seconds)}>
            {r.label}
          </button>
        ))}
      </div>
      {history && history.process_types.length > 1 && (
        <div role="group" aria-label="Process type" className="ranges">
          {[undefined, ...history.process_types].map((p) => (
            <button key={p ?? ''} type="button" aria-pressed={type === p} onClick={() => setType(p)}>
              {p ?? 'whole app'}
            </button>
          ))}
        </div>
      )}
      {history && history.type !== null && history.type !== 'web' && (
        <p className="metrics-note">{history.type} takes no traffic: its CPU, memory and restarts, for all its replicas and each one.</p>
      )}
      <ErrorText error={error} />
      {none && <p role="status">No data: the server has no metrics for this app.</p>}
      {history && !sampled && <p role="status">No samples in this range yet: Berth samples every 10 seconds.</p>}
      {history && (
        <p className="metrics-note" data-testid="resolution">
          {history.step >= 60 ? `${history.step / 60} min` : `${history.step} s`} per point
          {history.deploys.length > 0 && `; dashed lines mark deploys (${history.deploys.map((d) => `v${d.version}`).join(', ')})`}
        </p>
      )}
      <div className="charts">
        {history &&
          chartsOf(history).map((c) => <Chart key={`${c.title}|${range}|${history.type ?? ''}`} spec={c} t={history.t} deploys={history.deploys} />)}
      </div>
    </section>
  );
}

const COLOURS = ['#2563eb', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
/** Responses by class keep their meaning's colour: success green, redirect blue, client error amber, server error red. */
const CLASS_COLOURS: Record<string, string> = { '2xx': '#16a34a', '3xx': '#2563eb', '4xx': '#d97706', '5xx': '#dc2626' };
/** A replica keeps its colour from chart to chart; the whole app is the first colour. */
function colourOf(label: string, i: number): string {
  const replica = /^[\w-]+ (\d+)$/.exec(label);
  if (replica) return COLOURS[(Number(replica[1]) + 1) % COLOURS.length];
  return CLASS_COLOURS[label] ?? COLOURS[i % COLOURS.length];
}

/** Draws each deploy as a dashed vertical line labelled with its version. */
function deployMarkers(deploys: History['deploys']): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = '#6b7280';
        ctx.fillStyle = '#6b7280';
        ctx.setLineDash([4, 4]);
        ctx.font = `${Math.round(10 * devicePixelRatio)}px sans-serif`;
        let labelledTo = -Infinity;
        for (const d of deploys) {
          const x = u.valToPos(Date.parse(d.at) / 1000, 'x', true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          // Deploys close together: only the first of them gets a label, the rest only their lines.
          const text = `v${d.version}`;
          if (x < labelledTo) continue;
          const width = ctx.measureText(text).width;
          // At the right edge (a deploy of the last minutes) the label goes left of its line.
          const at = x + 3 + width > u.bbox.left + u.bbox.width ? x - 3 - width : x + 3;
          ctx.fillText(text, at, u.bbox.top + 10 * devicePixelRatio);
          labelledTo = x + 3 + width + 4 * devicePixelRatio;
        }
        ctx.restore();
      },
    },
  };
}

function Chart({ spec, t, deploys }: { spec: ChartSpec; t: number[]; deploys: History['deploys'] }) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = spec.lines.map((l) => l.label).join('|');
  const data = (): uPlot.AlignedData => [t, ...spec.lines.map((l) => l.values)];
  useEffect(() => {
    const width = Math.min(el.current!.clientWidth || 320, 560);
    plot.current = new uPlot(
      {
        width,
        height: 160,
        series: [{}, ...spec.lines.map((l, i) => ({ label: l.label, stroke: colourOf(l.label, i), width: 1.5, spanGaps: false }))],
        axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor' }],
        scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        legend: { live: false },
        plugins: [deployMarkers(deploys)],
      },
      data(),
      el.current!,
    );
    return () => plot.current?.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, deploys.map((d) => d.version).join()]);
  useEffect(() => {
    plot.current?.setData(data());
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [t, spec]);
  return (
    <figure className="chart">
      <figcaption>
        {spec.title}
        {spec.note && <small> ({spec.note})</small>}
      </figcaption>
      <div ref={el} />
    </figure>
  );
}

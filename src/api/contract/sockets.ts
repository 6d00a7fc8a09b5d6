import { type Static, type TSchema, Type as T } from '@sinclair/typebox';
import { IdParam, closed, type Access, type ParamsAndQuery } from './route-def.js';
import * as S from './schemas.js';
import { Event } from './events.js';
import { LogLine } from './containers.js';
import { Build, BuildLogLine, BuildStatus } from './builds.js';
import { Run } from './runs.js';

/**
 * The WebSocket routes: where they are, what they take and every message they send, declared
 * once. The server mounts them from here (src/api/register.ts), the client's stream() types its
 * messages from here, and so do the CLI and the git push hook. The token goes in the Authorization
 * header, or (browsers cannot set headers on a WebSocket) as ?token=.
 */
export interface SocketDef {
  path: string;
  summary: string;
  tag: string;
  /** Who may open it (route-def.ts); every socket needs a token. */
  access: Exclude<Access, 'public'>;
  params?: TSchema;
  /** Validated before the upgrade (a bad value: HTTP 400 naming the field); `token` is always allowed besides. */
  query?: TSchema;
  /** Every message the server sends on this socket. */
  message: TSchema;
}

const TailQuery = closed({ tail: T.Optional(T.Integer({ minimum: 0, maximum: 10000, default: 100 })) });

/** Sent before the server closes a log socket it cannot serve (no such app or container, no access). */
export const StreamError = T.Object({ error: T.Object({ message: T.String() }) });

export const BuildLogMessage = T.Union([
  T.Object({ type: T.Literal('line'), seq: BuildLogLine.properties.seq, line: BuildLogLine.properties.line, time: BuildLogLine.properties.time }),
  T.Object({ type: T.Literal('status'), status: BuildStatus, message: T.Union([T.String(), T.Null()]), build: Build }),
]);

const RunMessage = T.Union([T.Object({ type: T.Literal('output'), text: T.String() }), T.Object({ type: T.Literal('exit'), run: Run })]);

const SessionQuery = closed({
  client: T.Union([T.Literal('psql'), T.Literal('redis-cli')], { description: 'psql for a postgres add-on, redis-cli for a redis one' }),
  project: T.Optional(S.Id),
  tty: T.Optional(T.Boolean({ default: false, description: 'a pseudo-terminal (interactive); without one, stdin is a pipe and stdout and stderr come apart' })),
  timeout_s: T.Optional(T.Integer({ minimum: 1, maximum: 86400, default: 3600, description: 'the session is ended after this long' })),
});

/** What the client sends on an add-on session: `start` first (the client's arguments), then input, resizes, and `eof` to close a pipe's stdin. */
export const AddonSessionInput = T.Union([
  T.Object({ type: T.Literal('start'), args: T.Array(T.String({ maxLength: 16384, pattern: '^[^\\u0000]*$' }), { maxItems: 100 }) }),
  T.Object({ type: T.Literal('input'), text: T.String() }),
  T.Object({ type: T.Literal('eof') }),
  T.Object({ type: T.Literal('resize'), cols: T.Integer({ minimum: 1, maximum: 1000 }), rows: T.Integer({ minimum: 1, maximum: 1000 }) }),
]);
export type AddonSessionInput = Static<typeof AddonSessionInput>;

const SessionMessage = T.Union([
  T.Object({ type: T.Literal('output'), text: T.String(), stream: T.Optional(T.Union([T.Literal('stdout'), T.Literal('stderr')])) }),
  T.Object({ type: T.Literal('exit'), exit_code: T.Union([T.Integer(), T.Null()]), reason: T.Union([T.String(), T.Null()]) }),
  StreamError,
]);

export const sockets = {
  followEvents: {
    path: '/ws/events',
    summary: 'Live events of every project the caller is a member of',
    tag: 'events',
    access: 'user',
    message: Event,
  },
  followAppLogs: {
    path: '/ws/apps/:id/logs',
    summary: 'Live log lines of all replicas of an app (the last `tail` lines first)',
    tag: 'logs',
    access: 'viewer',
    params: IdParam,
    query: TailQuery,
    message: T.Union([LogLine, StreamError]),
  },
  followContainerLogs: {
    path: '/ws/containers/:id/logs',
    summary: 'Live log lines of one container (the last `tail` lines first)',
    tag: 'logs',
    access: 'viewer',
    params: IdParam,
    query: TailQuery,
    message: T.Union([LogLine, StreamError]),
  },
  followBuildLog: {
    path: '/ws/builds/:id/logs',
    summary: 'Every line of a build log so far, then live lines, then one final status message and a normal close',
    tag: 'builds',
    access: 'viewer',
    params: IdParam,
    message: BuildLogMessage,
  },
  followRun: {
    path: '/ws/runs/:id',
    summary: 'A run’s output so far, then live output, then one final message with the exit code and a normal close',
    tag: 'runs',
    access: 'developer',
    params: IdParam,
    message: RunMessage,
  },
  attachRun: {
    path: '/ws/runs/:id/tty',
    summary:
      'The terminal of an interactive run (tty: true): its output as it comes, then the exit message. The client sends {"type":"input","text"} and {"type":"resize","cols","rows"}',
    tag: 'runs',
    access: 'developer',
    params: IdParam,
    message: T.Union([RunMessage, StreamError]),
  },
  addonSession: {
    path: '/ws/addons/:id/session',
    summary:
      'A psql or redis-cli session on an add-on, connected with its own credentials (never shown). The client sends {"type":"start","args"} first, then {"type":"input","text"}, {"type":"resize","cols","rows"} and, without a tty, {"type":"eof"}; the server sends output (with its stream when there is no tty), then one exit message with the exit code and a normal close',
    tag: 'addons',
    access: 'developer',
    params: IdParam,
    query: SessionQuery,
    message: SessionMessage,
  },
} as const satisfies Record<string, SocketDef>;

export type Sockets = typeof sockets;
export type SocketName = keyof Sockets;
export type SocketInput<N extends SocketName> = ParamsAndQuery<Sockets[N]>;
export type SocketMessage<N extends SocketName> = Static<Sockets[N]['message']>;

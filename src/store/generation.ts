import { TableNode } from 'kysely';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryId, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { WriteCounter } from './write-counter.js';

/**
 * Counts the writes that go through one Kysely instance. A reader that notes the count before it
 * reads and finds it unchanged later knows nothing was written in between, so an answer built from
 * that read is still exact. Any statement that is not a SELECT counts as a write (raw SQL too); the
 * count moves both when a write is sent and when it completes, so a read that overlaps a write is
 * never taken for current.
 */
/**
 * Tables no cached answer reads: the log store's, written every half second while apps log. Their
 * writes left uncounted keep the read cache (api/read-cache.ts) useful on a busy installation.
 */
const UNWATCHED = new Set(['log_lines', 'log_cursors']);

function unwatched(node: RootOperationNode): boolean {
  const table =
    node.kind === 'InsertQueryNode' ? node.into : node.kind === 'DeleteQueryNode' && node.from.froms.length === 1 ? node.from.froms[0] : undefined;
  return !!table && TableNode.is(table) && UNWATCHED.has(table.table.identifier.name);
}

export class WriteGeneration implements KyselyPlugin, WriteCounter {
  private n = 0;
  private readonly writes = new WeakSet<QueryId>();

  get value(): number {
    return this.n;
  }

  read(): number {
    return this.n;
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind !== 'SelectQueryNode' && !unwatched(args.node)) {
      this.n++;
      this.writes.add(args.queryId);
    }
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.writes.has(args.queryId)) this.n++;
    return args.result;
  }
}

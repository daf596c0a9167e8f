// Where a snapshot's tail starts in the relay's log (RELAY-27, SYNC-15): the ops a frontier covers
// are read from the log's version vectors (each op's includes itself), never from the snapshot,
// which the relay cannot read. Every op up to `baseSeq` is covered; between it and the highest
// seq of a frontier op, the covered ones are left out of a new device's tail.

import type { DeviceId, DocId, OpId } from '../engine/index.ts';
import type { SnapshotStore, StoredSnapshot } from './snapshot-store.ts';

/** Pages read when scanning the log for what a frontier covers. */
const SCAN_PAGE = 2000;

/** What the scans read: the relay's log (op metadata) and its snapshot tables. */
export interface Log {
  readonly snapshots: Pick<SnapshotStore, 'listSnapshots'>;
  seqOf(doc: DocId, id: OpId): number | undefined;
  opsAfter(
    doc: DocId,
    afterSeq: number,
    limit: number,
  ): { seq: number; id: OpId; author: DeviceId; ctr: number; vv: Record<string, number> }[];
}

/** The version vector of a frontier's causal past. */
export async function coveredVv(
  h: Log,
  doc: DocId,
  frontier: readonly OpId[],
): Promise<Record<string, number>> {
  const vv: Record<string, number> = {};
  for (const f of frontier) {
    const seq = h.seqOf(doc, f);
    if (seq === undefined) continue;
    const [op] = h.opsAfter(doc, seq - 1, 1);
    if (op === undefined) continue;
    for (const [d, c] of Object.entries(op.vv)) if ((vv[d] ?? 0) < c) vv[d] = c;
  }
  return vv;
}

/** Whether every op of `frontier` is within version vector `vv`. */
function coversAll(h: Log, doc: DocId, frontier: readonly OpId[], vv: Record<string, number>): boolean {
  for (const f of frontier) {
    const seq = h.seqOf(doc, f);
    if (seq === undefined) return false;
    const [op] = h.opsAfter(doc, seq - 1, 1);
    if (op === undefined || op.ctr > (vv[op.author] ?? 0)) return false;
  }
  return true;
}

/**
 * `baseSeq`: the highest seq such that every op up to it is covered by `frontier`; scanned from
 * the newest stored snapshot this one covers whole (one scan of the log per calendar, not one per
 * snapshot). `frontierSeq`: the highest seq of a frontier op (how new the snapshot is).
 */
export async function tailStart(
  h: Log,
  doc: DocId,
  frontier: readonly OpId[],
): Promise<{ baseSeq: number; frontierSeq: number }> {
  const frontierSeq = Math.max(...frontier.map((f) => h.seqOf(doc, f) ?? 0));
  const covered = await coveredVv(h, doc, frontier);
  let start = 0;
  for (const s of await h.snapshots.listSnapshots(doc))
    if (s.baseSeq > start && coversAll(h, doc, s.frontier, covered)) start = s.baseSeq;
  let baseSeq = start;
  scan: for (let after = start; after < frontierSeq; ) {
    const page = h.opsAfter(doc, after, SCAN_PAGE);
    if (page.length === 0) break;
    for (const op of page) {
      if (op.ctr > (covered[op.author] ?? 0) || op.seq > frontierSeq) break scan;
      baseSeq = op.seq;
    }
    after = page[page.length - 1]!.seq;
  }
  return { baseSeq, frontierSeq };
}

/** Ops after a snapshot's baseSeq that its frontier covers (not sent to a device started from it). */
export async function coveredAfter(h: Log, s: StoredSnapshot): Promise<Set<OpId>> {
  const vv = await coveredVv(h, s.doc, s.frontier);
  const skip = new Set<OpId>();
  for (let after = s.baseSeq; after < s.frontierSeq; ) {
    const page = h.opsAfter(s.doc, after, SCAN_PAGE);
    if (page.length === 0) break;
    for (const op of page) if (op.seq <= s.frontierSeq && op.ctr <= (vv[op.author] ?? 0)) skip.add(op.id);
    after = page[page.length - 1]!.seq;
  }
  return skip;
}

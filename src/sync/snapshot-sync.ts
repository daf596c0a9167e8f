// The device side of snapshots on the wire (SYNC-13..15): uploading a snapshot this device
// sealed (manifest, then chunks one at a time, resuming where the relay's SnapshotStored
// says), receiving an offered one (its chunks gathered up to the count its manifest states and
// no further), starting a calendar from it (SNAP-5 is the engine's: `startFromSealed` refuses an
// untrusted snapshot, and this device then asks for the whole history), endorsing one it can
// verify (SNAP-15) and passing endorsements to the engine (SNAP-10). No DOM, no Node.

import type { CryptoProvider, DocId, Replica } from '../engine/index.ts';
import { openManifest } from '../engine/index.ts';
import type { MessageOf, SyncMessage } from './messages.ts';

/**
 * Chunks sent ahead of the relay's acknowledgement. One: a chunk costs 65 of the device's frame
 * tokens at the relay (RELAY-20), and a burst that overdraws them gets frames dropped and the
 * socket paused for longer each time; one at a time stays within the refill (measured: a window
 * of four took over a minute for a 3,000-event calendar right after its import, one took seconds).
 */
const WINDOW = 1;
/** Declined snapshots remembered (see SnapshotSync.declined). */
const DECLINED_MAX = 64;

/**
 * An upload that makes no progress for this long asks the relay where it stands again (a frame
 * dropped without an error: the relay sends RateLimited at most once a second); after
 * STALL_TRIES such rounds it is given up (the host tries again later).
 */
const STALL_MS = 5_000;
const STALL_TRIES = 6;

export interface SnapshotSyncDeps {
  replica: Pick<Replica, 'startFromSealed' | 'endorseSnapshot' | 'receiveEndorsement' | 'hasDoc'>;
  /** Checks manifest signatures (the engine's provider). */
  crypto: CryptoProvider;
  send(m: SyncMessage): void;
  /** A calendar started from a snapshot: the tail streams after `seq` (the client's cursor). */
  started(doc: DocId, seq: number): Promise<void>;
  /** A start failed (untrusted, compliance mode, a bad chunk): ask for the whole history. */
  fallBack(doc: DocId, why: string): void;
  /** Another device's snapshot of a calendar held here arrived whole (`bytes` of chunks). */
  offered?(doc: DocId, bytes: number): void;
  /** Runs `fn` after `ms` (the client's clock). */
  later(fn: () => void, ms: number): void;
  /** A snapshot this device sealed is stored durably by the relay. */
  uploaded?(doc: DocId): void;
  /**
   * SNAP-18, SYNC-16: where a snapshot offered to start `doc` goes while the calendar held here is
   * refilled beside it (a scratch replica); undefined: the replica itself.
   */
  startInto?(doc: DocId): Pick<Replica, 'startFromSealed' | 'hasDoc'> | undefined;
  /** The invite secret this device joins `doc` by, if any (its Invite op seals the keys, INV-1). */
  inviteSecret?(doc: DocId): Uint8Array | undefined;
}

interface Incoming {
  doc: DocId;
  id: string;
  manifest: Uint8Array;
  endorsements: Uint8Array[];
  keySources: Uint8Array[];
  seq: number;
  count: number;
  chunks: Uint8Array[];
}

interface Outgoing {
  doc: DocId;
  id: string;
  manifest: Uint8Array;
  chunks: Uint8Array[];
  /** Next chunk to send. */
  next: number;
  /** Bumped on every acknowledgement: a stall timer that sees it unchanged gives up. */
  progress: number;
  resolve(ok: boolean): void;
}

export interface SnapshotSyncStats {
  /** Calendars this device started from a snapshot (since the worker started). */
  started: number;
  /** Snapshots this device uploaded completely. */
  uploaded: number;
  /** Endorsements this device made. */
  endorsed: number;
}

export class SnapshotSync {
  private incoming: Incoming | undefined;
  private outgoing: Outgoing | undefined;
  readonly stats: SnapshotSyncStats = { started: 0, uploaded: 0, endorsed: 0 };
  /** Calendars that must not start from a snapshot on this connection (a start failed). */
  readonly noSnapshot = new Set<DocId>();
  /**
   * Snapshots this device found forged (or whose chunks did not match), by manifest hash:
   * offered again on a later connection, they are not gathered and recomputed again (at most
   * DECLINED_MAX remembered, the oldest forgotten first).
   */
  private readonly declined = new Set<string>();

  constructor(private readonly d: SnapshotSyncDeps) {}

  /** The connection closed: what was in flight is dropped (an upload resolves false). */
  reset(): void {
    this.incoming = undefined;
    this.outgoing?.resolve(false);
    this.outgoing = undefined;
  }

  /** Whether a Subscribe for `doc` may ask for a snapshot (SYNC-15). */
  mayStart(doc: DocId, cursor: number): boolean {
    return cursor === 0 && !this.d.replica.hasDoc(doc) && !this.noSnapshot.has(doc);
  }

  /**
   * SYNC-13: uploads a sealed snapshot. Resolves true once the relay says it is stored durably,
   * false if the connection went away or the relay refused it (one upload at a time).
   */
  async upload(doc: DocId, manifest: Uint8Array, chunks: Uint8Array[]): Promise<boolean> {
    if (this.outgoing !== undefined) return false;
    const id = (await openManifest(this.d.crypto, manifest)).hash;
    return new Promise<boolean>((resolve) => {
      const out: Outgoing = { doc, id, manifest, chunks, next: 0, progress: 0, resolve };
      this.outgoing = out;
      this.d.send({ type: 'snapshotPut', doc, manifest });
      this.watch(out);
    });
  }

  /** Asks again when nothing moves for STALL_MS; gives up after STALL_TRIES (see STALL_MS). */
  private watch(out: Outgoing, tries = 0): void {
    const seen = out.progress;
    this.d.later(() => {
      if (this.outgoing !== out) return;
      if (out.progress !== seen) return this.watch(out);
      if (tries + 1 >= STALL_TRIES) {
        this.outgoing = undefined;
        out.resolve(false);
        return;
      }
      out.next = 0;
      this.d.send({ type: 'snapshotPut', doc: out.doc, manifest: out.manifest });
      this.watch(out, tries + 1);
    }, STALL_MS);
  }

  /**
   * The relay dropped a frame of this device unread (RELAY-20's frame budget): the upload asks
   * again after the hint, and the relay's answer says where to resume (SYNC-13).
   */
  rateLimited(retryAfterMs: number): void {
    const out = this.outgoing;
    if (out === undefined) return;
    this.d.later(
      () => {
        if (this.outgoing !== out) return;
        out.next = 0;
        this.d.send({ type: 'snapshotPut', doc: out.doc, manifest: out.manifest });
      },
      Math.max(retryAfterMs, 250),
    );
  }

  /** The relay refused something about a snapshot of `doc` (an Error naming the calendar). */
  refused(doc: DocId): void {
    const out = this.outgoing;
    if (out !== undefined && out.doc === doc) {
      this.outgoing = undefined;
      out.resolve(false);
    }
  }

  async handle(
    m:
      | MessageOf<'snapshotStored'>
      | MessageOf<'snapshotOffer'>
      | MessageOf<'snapshotChunk'>
      | MessageOf<'endorse'>,
  ): Promise<void> {
    switch (m.type) {
      case 'snapshotStored':
        return this.stored(m);
      case 'snapshotOffer':
        return this.offered(m);
      case 'snapshotChunk':
        return this.chunk(m);
      case 'endorse':
        // SNAP-10: the engine keeps it (and applies what it certifies); a bad one changes nothing.
        if (this.d.replica.hasDoc(m.doc))
          await this.d.replica.receiveEndorsement(m.endorsement).catch(() => undefined);
        return;
    }
  }

  private stored(m: MessageOf<'snapshotStored'>): void {
    const out = this.outgoing;
    if (out === undefined || out.doc !== m.doc || out.id !== m.snapshot) return;
    out.progress++;
    if (m.complete) {
      this.outgoing = undefined;
      this.stats.uploaded++;
      this.d.uploaded?.(m.doc);
      out.resolve(true);
      return;
    }
    // Resume from what the relay holds (after a dropped frame: from there again); keep WINDOW
    // chunks ahead of its acknowledgements.
    if (m.chunks > out.next || out.next === 0) out.next = m.chunks;
    while (out.next < out.chunks.length && out.next < m.chunks + WINDOW) {
      const i = out.next++;
      this.d.send({ type: 'snapshotChunk', doc: m.doc, snapshot: out.id, index: i, bytes: out.chunks[i]! });
    }
  }

  private async offered(m: MessageOf<'snapshotOffer'>): Promise<void> {
    let count: number;
    let id: string;
    try {
      const man = await openManifest(this.d.crypto, m.manifest);
      if (man.doc !== m.doc) throw new Error('the manifest names another calendar');
      count = man.chunks.length;
      id = man.hash;
    } catch (e) {
      this.incoming = undefined;
      if (m.seq > 0) this.d.fallBack(m.doc, e instanceof Error ? e.message : String(e));
      return;
    }
    // A start is only for a calendar this device does not hold (or refills, SNAP-18); an
    // endorsement offer only for one it does.
    const holder = m.seq > 0 ? (this.d.startInto?.(m.doc) ?? this.d.replica) : this.d.replica;
    if (m.seq > 0 === holder.hasDoc(m.doc)) {
      this.incoming = undefined;
      return;
    }
    this.incoming = {
      doc: m.doc,
      id,
      manifest: m.manifest,
      endorsements: m.endorsements,
      keySources: m.keySources,
      seq: m.seq,
      count,
      chunks: [],
    };
  }

  private async chunk(m: MessageOf<'snapshotChunk'>): Promise<void> {
    const inc = this.incoming;
    // Chunks arrive in order after their offer; anything else is not kept (bounded by the manifest).
    if (inc === undefined || inc.doc !== m.doc || inc.id !== m.snapshot || m.index !== inc.chunks.length)
      return;
    inc.chunks.push(m.bytes);
    if (inc.chunks.length < inc.count) return;
    this.incoming = undefined;
    if (inc.seq > 0) {
      await this.start(inc);
      return;
    }
    this.d.offered?.(
      inc.doc,
      inc.chunks.reduce((n, c) => n + c.length, 0),
    );
    await this.endorse(inc);
  }

  /** SYNC-15: SNAP-5 and SNAP-6 are the engine's; on any refusal the whole history is asked for. */
  private async start(inc: Incoming): Promise<void> {
    try {
      const secret = this.d.inviteSecret?.(inc.doc);
      await (this.d.startInto?.(inc.doc) ?? this.d.replica).startFromSealed(
        inc.manifest,
        inc.chunks,
        inc.endorsements,
        inc.keySources,
        secret === undefined ? [] : [secret],
      );
    } catch (e) {
      this.noSnapshot.add(inc.doc);
      this.d.fallBack(inc.doc, e instanceof Error ? e.message : String(e));
      return;
    }
    this.stats.started++;
    await this.d.started(inc.doc, inc.seq);
  }

  /** SNAP-15: a device that holds what the snapshot covers recomputes it and endorses it. */
  private async endorse(inc: Incoming): Promise<void> {
    // SNAP-10, SNAP-16: the endorsements offered with it certify their authors' chains here too
    // (the maker's own among them); one the engine refuses is left out.
    for (const e of inc.endorsements) await this.d.replica.receiveEndorsement(e).catch(() => undefined);
    let bytes: Uint8Array;
    try {
      bytes = await this.d.replica.endorseSnapshot(inc.manifest, inc.chunks);
    } catch (e) {
      // Unverifiable here (ops or a key missing: it may be later), or forged (the engine recorded
      // the evidence, `Malformed`: not recomputed again).
      if ((e as { code?: unknown }).code === 'Malformed') {
        this.declined.add(inc.id);
        if (this.declined.size > DECLINED_MAX) this.declined.delete(this.declined.values().next().value!);
      }
      return;
    }
    this.stats.endorsed++;
    this.d.send({ type: 'endorse', doc: inc.doc, endorsement: bytes });
  }
}

// The device side of sync: one connection per device to the relay. Connects when online, backs
// off with jitter when not, authenticates by signing the relay's challenge, pushes the outbox,
// resumes each calendar from its persisted cursor, applies what arrives through the engine, and
// reconciles heads until Merkle roots match. Exposes a status for the UI. No DOM, no Node: the
// host passes the transport factory, the persistence and the clock.
//
// The class is built in layers, one file each: client-session.ts (state, connection, status),
// client-catch-up.ts (subscriptions, catch-up, reconciliation, re-base), client-upload.ts (outbox,
// acks); here the public API, the message dispatch, authentication and the relay's errors. Types
// the host deals in are client-contract.ts's.

import type { DocId } from '../engine/index.ts';
import type { HeldInvite } from './client-contract.ts';
import { hostOf } from './client-session.ts';
import { SyncUpload } from './client-upload.ts';
import { CloseCode, isTransient } from './codes.ts';
import { type MessageOf, PROTOCOL_VERSION, type SyncMessage } from './messages.ts';
import { authMessage } from './messages-auth.ts';
import type { SnapshotSyncStats } from './snapshot-sync.ts';

export class SyncClient extends SyncUpload {
  /** Snapshot counters (diagnostics), or undefined when snapshots are off. */
  get snapshotStats(): SnapshotSyncStats | undefined {
    return this.snaps === undefined ? undefined : { ...this.snaps.stats };
  }

  /**
   * SYNC-13: uploads a snapshot this device sealed. True once the relay stored it durably; false
   * when offline, snapshots are off, another upload is running, or the relay refused it.
   */
  uploadSnapshot(doc: DocId, manifest: Uint8Array, chunks: Uint8Array[]): Promise<boolean> {
    if (this.snaps === undefined || !this.authed) return Promise.resolve(false);
    return this.snaps.upload(doc, manifest, chunks);
  }

  /** SYNC-14, SNAP-16: sends an endorsement this device signed (its own snapshot's included). */
  sendEndorsement(doc: DocId, endorsement: Uint8Array): boolean {
    if (!this.authed) return false;
    this.send({ type: 'endorse', doc, endorsement });
    return true;
  }

  /** Starts syncing (connects if online). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribeReplica = this.o.replica.onChange((e) => {
      // A calendar created or joined locally: subscribe to it on the live connection.
      if (this.authed && !this.docs.has(e.doc) && !this.refused.has(e.doc))
        this.serial(() => this.subscribe(e.doc));
    });
    void this.refreshPending();
    this.connect();
  }

  /** Stops syncing and closes the connection. Nothing is lost: the outbox stays persisted. */
  stop(): void {
    this.stopped = true;
    this.unsubscribeReplica?.();
    this.o.clock.clearTimeout(this.reconnectTimer);
    this.o.clock.clearTimeout(this.retryTimer);
    this.o.clock.clearTimeout(this.resyncTimer);
    this.socket?.close(1000, 'stopped');
    this.teardown();
    this.set({ state: 'offline' });
  }

  /** The host reports connectivity (navigator.onLine / online+offline events). */
  setOnline(online: boolean): void {
    this.online = online;
    if (!online) {
      this.socket?.close(1000, 'offline');
      this.teardown();
      this.set({ state: 'offline' });
    } else if (this.socket === undefined && !this.stopped) {
      this.attempt = 0;
      this.o.clock.clearTimeout(this.reconnectTimer);
      this.connect();
    }
  }

  /**
   * Also sync a calendar this replica does not hold yet. With an invite, the subscription carries
   * an invite proof (INV-6) until this device is a member, so it can fetch the calendar's ops
   * (up to and past the Invite op) before it writes its own Add.
   */
  follow(doc: DocId, invite?: HeldInvite): void {
    this.followed.set(doc, invite);
    this.refused.delete(doc);
    if (this.authed) this.serial(() => this.subscribe(doc));
  }

  /** Stops following a calendar that was followed only for an invite (a join that failed). */
  unfollow(doc: DocId): void {
    this.followed.delete(doc);
  }

  /** The host added ops to the outbox: push them now if connected. */
  kick(): void {
    void this.refreshPending();
    if (this.authed) this.serial(() => this.pushOutbox());
  }

  // --- messages ----------------------------------------------------------------------------

  protected async handle(m: SyncMessage): Promise<void> {
    switch (m.type) {
      case 'challenge':
        return this.answer(m);
      case 'welcome':
        return this.welcome(m);
      case 'ack':
        return this.acked(m);
      case 'ops':
        return this.ops(m);
      case 'caughtUp':
        return this.caughtUp(m);
      case 'heads':
        return this.heads(m);
      case 'want':
        return this.want(m);
      case 'held':
        this.parked.add(m.op);
        this.inFlight.delete(m.op);
        this.set({ clockOffsetUs: m.clockOffset, clockWarning: true });
        return;
      case 'clock':
        this.set({ clockOffsetUs: m.clockOffset, clockWarning: m.clockOffset > m.maxSkew });
        return;
      case 'error':
        return this.error(m);
      case 'snapshotStored':
      case 'snapshotOffer':
      case 'snapshotChunk':
        return this.snaps?.handle(m);
      case 'endorse':
        await this.snaps?.handle(m);
        // SNAP-22: an endorsement this copy cannot judge: it may differ for ever; re-sync it.
        if (!this.resync.refilling(m.doc) && this.resync.diverged(m.doc, this.nowMs())) this.restart();
        return;
      default:
        return;
    }
  }

  private async answer(m: MessageOf<'challenge'>): Promise<void> {
    if (m.version !== PROTOCOL_VERSION) {
      this.set({ lastError: { code: 'VersionMismatch', message: `relay speaks protocol ${m.version}` } });
      this.socket?.close(CloseCode.VersionMismatch, 'version mismatch');
      return;
    }
    this.challenge = m.challenge;
    const sig = await this.o.signer.sign(authMessage(m.challenge, hostOf(this.o.url)));
    const device = [...this.o.signer.publicKey].map((b) => b.toString(16).padStart(2, '0')).join('');
    this.send({
      type: 'auth',
      version: PROTOCOL_VERSION,
      device: device as never,
      sig,
      deviceTime: this.o.clock.nowUs(),
    });
  }

  private async welcome(m: MessageOf<'welcome'>): Promise<void> {
    this.authed = true;
    this.attempt = 0;
    this.set({ state: 'syncing', clockOffsetUs: m.clockOffset, clockWarning: m.clockOffset > m.maxSkew });
    // SYNC-4: push first, so a subscription's catch-up already reflects this device's own ops.
    await this.pushOutbox();
    const docs = new Set<DocId>([...this.o.replica.listDocs(), ...this.followed.keys()]);
    for (const doc of docs) await this.subscribe(doc);
    this.updateSynced();
  }

  private async error(m: MessageOf<'error'>): Promise<void> {
    this.set({ lastError: { code: m.code, message: m.message } });
    if (m.op === null && m.doc !== null) this.snaps?.refused(m.doc);
    if (m.op === null && m.code === 'RateLimited') this.snaps?.rateLimited(m.retryAfterMs);
    if (m.op !== null) {
      this.inFlight.delete(m.op);
      if (isTransient(m.code)) {
        // Transient: push again after the relay's hint (the op stays in the outbox).
        const wait = Math.max(m.retryAfterMs, 100);
        this.o.clock.clearTimeout(this.retryTimer);
        this.retryTimer = this.o.clock.setTimeout(() => this.serial(() => this.pushOutbox()), wait);
      } else {
        // Permanent for this relay (e.g. NotMember after removal): kept in the outbox, not lost,
        // but not pushed again on this connection, and not waited for by the status.
        this.parked.add(m.op);
        this.refusedOps.add(m.op);
        this.emit({ type: 'opRefused', doc: m.doc, op: m.op, code: m.code, message: m.message });
      }
      this.updateSynced();
      return;
    }
    if (
      m.code === 'UnknownDoc' &&
      m.doc !== null &&
      (!this.o.replica.hasDoc(m.doc) || this.seeded.has(m.doc)) &&
      this.docs.has(m.doc)
    ) {
      // SYNC-11: the relay does not serve a calendar this device holds or follows (it lost it, or
      // never had it): say so, and never report "synced" while it lasts.
      // Asked again later on this connection: the calendar may reach the relay meanwhile (its
      // owner syncs after we subscribed, or a device re-seeds a restored relay).
      this.docs.delete(m.doc);
      this.unserved.add(m.doc);
      const tries = this.unservedTries.get(m.doc) ?? 0;
      this.unservedTries.set(m.doc, tries + 1);
      const socket = this.socket;
      const doc = m.doc;
      this.o.clock.setTimeout(
        () => {
          if (this.socket === socket && this.unserved.has(doc)) this.serial(() => this.subscribe(doc));
        },
        Math.min(30_000, 500 * 2 ** Math.min(tries, 6)),
      );
      this.emit({ type: 'docRefused', doc: m.doc, code: m.code, message: m.message });
      this.updateSynced();
      return;
    }
    if (m.doc !== null && (m.code === 'NotMember' || m.code.startsWith('Invite'))) {
      // RELAY-9 / INV-6: the relay does not serve this calendar to this device (removed, never a
      // member, or an invite it refuses). Stop waiting for it on this connection.
      this.docs.delete(m.doc);
      this.refused.add(m.doc);
      this.resync.forget(m.doc);
      this.emit({ type: 'docRefused', doc: m.doc, code: m.code, message: m.message });
      // Its ops not pushed yet are withheld now (pushOutbox), so the status does not wait for them.
      await this.pushOutbox();
      this.updateSynced();
      return;
    }
    if (
      m.code === 'UnknownDoc' &&
      m.doc !== null &&
      this.o.replica.hasDoc(m.doc) &&
      !this.seeding.has(m.doc)
    ) {
      // The relay lacks the calendar entirely (its genesis never reached it, or it was restored
      // from an old backup): seed it from our log, once per connection.
      this.seeding.add(m.doc);
      this.seeded.add(m.doc);
      this.docs.delete(m.doc);
      for (let after = 0; ; ) {
        const page = await this.o.replica.listOps(m.doc, after, 256);
        if (page.length === 0) break;
        after = page[page.length - 1]!.seq;
        this.sendOps(page.map((r) => ({ id: r.id, doc: r.doc, bytes: r.bytes })));
      }
    }
  }
}

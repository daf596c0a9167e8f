// Tabs = one device: the worker of one tab holds a Web Lock and hosts the engine; the workers of
// the other tabs forward calls to it over a BroadcastChannel. When the leader's tab closes or
// crashes the browser releases its lock, the next tab in the lock queue starts a host from
// IndexedDB, and every call not yet answered is sent again to it ([RT-8]).

import type { Unsubscribe } from './api.ts';
import {
  type Host,
  type HostApi,
  type HostEvent,
  type HostMethod,
  hostApiOf,
  RemoteError,
  toWireError,
  type WireError,
} from './host-api.ts';

/** The part of the Web Locks API used (navigator.locks); injectable for tests. */
export interface LocksLike {
  request(name: string, callback: (lock: unknown) => Promise<unknown>): Promise<unknown>;
}

/** The part of BroadcastChannel used; injectable for tests. */
export interface ChannelLike {
  postMessage(msg: unknown): void;
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
  close(): void;
}

type Msg =
  | { t: 'req'; id: string; from: string; to: string; method: HostMethod; args: unknown[] }
  | { t: 'res'; id: string; to: string; ok: true; value: unknown }
  | { t: 'res'; id: string; to: string; ok: false; error: WireError }
  | { t: 'event'; event: HostEvent }
  | { t: 'leader'; leader: string }
  | { t: 'who' };

export interface TabNodeOptions {
  locks: LocksLike;
  channel: ChannelLike;
  /** Unique per worker instance. */
  nodeId: string;
  lockName?: string;
  /** Starts the engine host; called once, when this node wins the lock. */
  startHost: () => Promise<Host>;
}

export interface TabNode {
  api: HostApi;
  onEvent(cb: (e: HostEvent) => void): Unsubscribe;
  readonly role: 'leader' | 'follower';
  close(): void;
}

interface Outstanding {
  method: HostMethod;
  args: unknown[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** Leader the request was last sent to, or undefined while no leader is known. */
  sentTo: string | undefined;
}

/** Answers kept by a leader so a request re-sent to it is not executed twice. */
const ANSWER_CACHE = 512;

export function createTabNode(opts: TabNodeOptions): TabNode {
  const { channel, nodeId } = opts;
  const lockName = opts.lockName ?? 'ledgerday-engine';
  const listeners = new Set<(e: HostEvent) => void>();
  const outstanding = new Map<string, Outstanding>();
  let leader: string | undefined;
  let host: Host | undefined;
  let hostReady: Promise<Host> | undefined;
  let seq = 0;
  let closed = false;
  let releaseLock: (() => void) | undefined;
  // Leader side: request id -> answer (or the in-flight promise), bounded.
  const answers = new Map<string, Promise<Msg>>();

  const emit = (e: HostEvent) => {
    for (const cb of listeners) cb(e);
  };

  const post = (m: Msg) => {
    if (!closed) channel.postMessage(m);
  };

  function send(id: string, o: Outstanding) {
    if (leader === undefined || leader === nodeId) return;
    o.sentTo = leader;
    post({ t: 'req', id, from: nodeId, to: leader, method: o.method, args: o.args });
  }

  async function runLocal(method: HostMethod, args: unknown[]): Promise<unknown> {
    const h = host ?? (await hostReady!);
    return (h[method] as (...a: unknown[]) => Promise<unknown>)(...args);
  }

  function call(method: HostMethod, args: unknown[]): Promise<unknown> {
    if (closed) return Promise.reject(new RemoteError({ code: 'Closed', message: 'this tab is closing' }));
    if (leader === nodeId) return runLocal(method, args);
    return new Promise((resolve, reject) => {
      const id = `${nodeId}:${++seq}`;
      const o: Outstanding = { method, args, resolve, reject, sentTo: undefined };
      outstanding.set(id, o);
      send(id, o);
    });
  }

  /** A new leader is known: every call it has not seen is (re)sent; none is dropped. */
  function onLeader(id: string) {
    leader = id;
    for (const [rid, o] of outstanding) {
      if (o.sentTo !== id) send(rid, o);
    }
  }

  async function answer(m: Extract<Msg, { t: 'req' }>) {
    let p = answers.get(m.id);
    if (p === undefined) {
      p = runLocal(m.method, m.args).then(
        (value): Msg => ({ t: 'res', id: m.id, to: m.from, ok: true, value }),
        (e: unknown): Msg => ({ t: 'res', id: m.id, to: m.from, ok: false, error: toWireError(e) }),
      );
      answers.set(m.id, p);
      if (answers.size > ANSWER_CACHE) answers.delete(answers.keys().next().value as string);
    }
    post(await p);
  }

  channel.addEventListener('message', (ev) => {
    const m = ev.data as Msg;
    if (closed || typeof m !== 'object' || m === null) return;
    switch (m.t) {
      case 'req':
        if (m.to === nodeId && leader === nodeId) void answer(m);
        break;
      case 'res': {
        if (m.to !== nodeId) break;
        const o = outstanding.get(m.id);
        if (o === undefined) break;
        outstanding.delete(m.id);
        if (m.ok) o.resolve(m.value);
        else o.reject(new RemoteError(m.error));
        break;
      }
      case 'event':
        if (leader !== nodeId) emit(m.event);
        break;
      case 'leader':
        onLeader(m.leader);
        break;
      case 'who':
        if (leader === nodeId) post({ t: 'leader', leader: nodeId });
        break;
    }
  });

  async function becomeLeader(): Promise<void> {
    hostReady = opts.startHost();
    leader = nodeId;
    // Calls this tab had sent to the previous leader run here now, in their original order.
    const mine = [...outstanding];
    outstanding.clear();
    for (const [, o] of mine) runLocal(o.method, o.args).then(o.resolve, o.reject);
    post({ t: 'leader', leader: nodeId });
    host = await hostReady;
    host.onEvent((e) => {
      emit(e);
      post({ t: 'event', event: e });
    });
  }

  void opts.locks
    .request(lockName, async () => {
      if (closed) return;
      try {
        await becomeLeader();
      } catch (e) {
        // startHost never throws by contract (a host that cannot open storage serves errors);
        // if it does anyway, report it and keep the lock so followers get answers, not silence.
        emit({ type: 'error', error: toWireError(e) });
      }
      await new Promise<void>((resolve) => {
        releaseLock = resolve;
      });
    })
    .catch((e: unknown) => emit({ type: 'error', error: toWireError(e) }));
  // A leader that started before this tab announces itself when asked.
  post({ t: 'who' });

  const api = hostApiOf(
    (m) =>
      (...args: unknown[]) =>
        call(m, args),
  );

  return {
    api,
    onEvent(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    get role() {
      return leader === nodeId ? 'leader' : 'follower';
    },
    close() {
      closed = true;
      host?.close();
      releaseLock?.();
      channel.close();
      for (const [, o] of outstanding)
        o.reject(new RemoteError({ code: 'Closed', message: 'this tab is closing' }));
      outstanding.clear();
    },
  };
}

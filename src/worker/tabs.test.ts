// The tab protocol in Node: real BroadcastChannels, a FIFO lock manager standing in for Web Locks,
// and a recording host. Covers forwarding, events, leader hand-over and retry of queued calls.

import { afterEach, describe, expect, it } from 'vitest';
import type { EventView, Range } from './api.ts';
import type { Host, HostEvent } from './host-api.ts';
import { createTabNode, type LocksLike, type TabNode } from './tabs.ts';

/** Exclusive FIFO locks, as navigator.locks grants them within one origin. */
function createLocks(): LocksLike {
  const queues = new Map<string, (() => void)[]>();
  const held = new Set<string>();
  const grantNext = (name: string) => {
    const next = queues.get(name)?.shift();
    if (next) next();
    else held.delete(name);
  };
  return {
    request(name, cb) {
      return new Promise((resolve, reject) => {
        const run = () => {
          held.add(name);
          cb({ name })
            .then(resolve, reject)
            .finally(() => grantNext(name));
        };
        if (held.has(name)) {
          const q = queues.get(name) ?? [];
          q.push(run);
          queues.set(name, q);
        } else run();
      });
    },
  };
}

interface Recorder {
  host: Host;
  calls: string[];
  /** Makes every later call hang forever (a tab frozen or dying mid-call). */
  freeze(): void;
  emit(e: HostEvent): void;
}

function recordingHost(name: string, log: string[]): Recorder {
  const listeners = new Set<(e: HostEvent) => void>();
  let frozen = false;
  const calls: string[] = [];
  const hang = () => new Promise<never>(() => {});
  const rec = (what: string) => {
    calls.push(what);
    log.push(`${name}:${what}`);
  };
  const host = {
    async listCalendars() {
      if (frozen) return hang();
      rec('list');
      return [];
    },
    async createEvent(_c: string, id: string, fields: { title: string }) {
      if (frozen) return hang();
      rec(`create ${id} ${fields.title}`);
      return id;
    },
    async updateEvent(_c: string, id: string) {
      if (frozen) return hang();
      if (id === 'bad') throw Object.assign(new Error('Storage: disk full'), { code: 'Storage' });
      rec(`update ${id}`);
    },
    async eventsInRange(_r: Range): Promise<EventView[]> {
      return [];
    },
    onEvent(cb: (e: HostEvent) => void) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    close() {},
  } as unknown as Host;
  return {
    host,
    calls,
    freeze: () => {
      frozen = true;
    },
    emit: (e) => {
      for (const cb of listeners) cb(e);
    },
  };
}

const fields = (title: string) => ({
  title,
  start: '2025-01-01T10:00',
  end: '2025-01-01T11:00',
  allDay: false,
  timeZone: 'UTC',
  location: '',
  notes: '',
});

let nodes: TabNode[] = [];
let chan = 0;
afterEach(() => {
  for (const n of nodes) n.close();
  nodes = [];
});

function world() {
  const locks = createLocks();
  const channelName = `tabs-test-${++chan}`;
  const log: string[] = [];
  const hosts = new Map<string, Recorder>();
  const tab = (id: string) => {
    const n = createTabNode({
      locks,
      channel: new BroadcastChannel(channelName) as never,
      nodeId: id,
      startHost: async () => {
        const r = recordingHost(id, log);
        hosts.set(id, r);
        return r.host;
      },
    });
    nodes.push(n);
    return n;
  };
  return { tab, log, hosts };
}

const until = async (cond: () => boolean, ms = 2000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('[RT-7] one engine host per browser profile', () => {
  it('[RT-7] the first tab leads; a second tab forwards its calls to it', async () => {
    const { tab, log } = world();
    const a = tab('a');
    await until(() => a.role === 'leader');
    const b = tab('b');
    expect(await b.api.createEvent('c', 'e1', fields('from b'))).toBe('e1');
    expect(await a.api.createEvent('c', 'e2', fields('from a'))).toBe('e2');
    expect(b.role).toBe('follower');
    expect(log).toEqual(['a:create e1 from b', 'a:create e2 from a']);
  });

  it('[RT-7] errors cross the channel with their code', async () => {
    const { tab } = world();
    const a = tab('a');
    await until(() => a.role === 'leader');
    const b = tab('b');
    await expect(b.api.updateEvent('c', 'bad', {})).rejects.toMatchObject({
      code: 'Storage',
      message: /disk full/,
    });
  });

  it('[RT-7] host events reach every tab', async () => {
    const { tab, hosts } = world();
    const a = tab('a');
    const b = tab('b');
    await until(() => hosts.has('a'));
    await b.api.listCalendars();
    const seenA: HostEvent[] = [];
    const seenB: HostEvent[] = [];
    a.onEvent((e) => seenA.push(e));
    b.onEvent((e) => seenB.push(e));
    hosts.get('a')!.emit({ type: 'calendars' });
    await until(() => seenB.length === 1);
    expect(seenA).toEqual([{ type: 'calendars' }]);
    expect(seenB).toEqual([{ type: 'calendars' }]);
  });
});

describe('[RT-8] leader hand-over', () => {
  it('[RT-8] calls queued at a leader that dies are retried at the next leader, none lost', async () => {
    const { tab, hosts, log } = world();
    const a = tab('a');
    await until(() => hosts.has('a'));
    const b = tab('b');
    const c = tab('c');
    await b.api.listCalendars();
    await c.api.listCalendars();
    // The leader stops answering (busy, frozen, about to crash) with writes in flight.
    hosts.get('a')!.freeze();
    const writes = [
      b.api.createEvent('cal', 'b1', fields('b1')),
      c.api.createEvent('cal', 'c1', fields('c1')),
      b.api.createEvent('cal', 'b2', fields('b2')),
    ];
    await new Promise((r) => setTimeout(r, 20));
    a.close(); // the tab closes: the browser releases its lock
    expect(await Promise.all(writes)).toEqual(['b1', 'c1', 'b2']);
    // b was next in the lock queue: it ran its own calls and c's.
    expect(b.role).toBe('leader');
    expect(log.filter((l) => l.startsWith('b:create')).sort()).toEqual([
      'b:create b1 b1',
      'b:create b2 b2',
      'b:create c1 c1',
    ]);
    // The new leader's host is the only one serving now.
    await c.api.createEvent('cal', 'c2', fields('c2'));
    expect(log.at(-1)).toBe('b:create c2 c2');
  });

  it('[RT-8] calls made while no tab leads wait for the next leader', async () => {
    const { tab, hosts } = world();
    const a = tab('a');
    await until(() => hosts.has('a'));
    const b = tab('b');
    await b.api.listCalendars();
    a.close();
    const p = b.api.createEvent('cal', 'x', fields('x'));
    expect(await p).toBe('x');
    expect(hosts.get('b')!.calls).toContain('create x x');
  });

  it('[RT-8] a re-sent request is executed once by the same leader', async () => {
    const { tab, hosts } = world();
    tab('a');
    await until(() => hosts.has('a'));
    const b = tab('b');
    const c = tab('c');
    const p = b.api.createEvent('cal', 'once', fields('once'));
    // Another tab asks who leads: the leader re-announces itself; b must not send again.
    (c as unknown as { api: { listCalendars(): Promise<unknown> } }).api.listCalendars();
    await p;
    await new Promise((r) => setTimeout(r, 20));
    expect(hosts.get('a')!.calls.filter((x) => x === 'create once once')).toHaveLength(1);
  });
});

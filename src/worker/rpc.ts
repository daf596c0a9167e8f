// The worker side of the tab <-> worker boundary (comlink): the tab node's API with errors turned
// into plain {code, message} objects (comlink keeps only name and message of an Error), and one
// event subscription per tab.

import * as Comlink from 'comlink';
import type { Unsubscribe } from './api.ts';
import { callHost, type HostApi, type HostEvent, hostApiOf, toWireError } from './host-api.ts';
import type { TabNode } from './tabs.ts';

export interface WorkerApi extends HostApi {
  /** The callback is a Comlink.proxy from the tab. */
  subscribe(cb: (e: HostEvent) => void): Unsubscribe;
  role(): 'leader' | 'follower';
}

export function exposeTabNode(node: TabNode, endpoint: Comlink.Endpoint): void {
  const api = hostApiOf((m) => async (...args: unknown[]) => {
    try {
      return await callHost(node.api, m, args);
    } catch (e) {
      throw toWireError(e);
    }
  });
  const workerApi: WorkerApi = {
    ...api,
    subscribe: (cb) => Comlink.proxy(node.onEvent((e) => void cb(e))),
    role: () => node.role,
  };
  Comlink.expose(workerApi, endpoint);
}

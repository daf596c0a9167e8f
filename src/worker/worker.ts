// Entry of the dedicated worker each tab starts: joins the tabs of this browser profile (one of
// them hosts the engine, see tabs.ts) and serves its tab over comlink.

import { startEngineHost } from './host.ts';
import { exposeTabNode } from './rpc.ts';
import { createTabNode } from './tabs.ts';

declare const self: DedicatedWorkerGlobalScope;

const params = new URL(self.location.href).searchParams;
// Tests give each simulated browser profile its own database and lock names.
const ns = params.get('ns') ?? 'ledgerday';

const node = createTabNode({
  locks: self.navigator.locks,
  channel: new BroadcastChannel(`${ns}-tabs`),
  nodeId: crypto.randomUUID(),
  lockName: `${ns}-engine`,
  startHost: () => startEngineHost({ name: ns }),
});
exposeTabNode(node, self);

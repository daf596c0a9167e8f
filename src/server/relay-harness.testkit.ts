// Per-test lifecycle for relay tests (vitest only; bench/relay.ts uses relay.testkit.ts directly).

import { afterEach } from 'vitest';
import { type DocId, type EntityId, EventField, encodeValue, type OpId } from '../engine/index.ts';
import type { SyncClient } from '../sync/client.ts';
import type { RelayConfig } from './config.ts';
import type { Logger } from './log.ts';
import {
  makeClient,
  type RawSession,
  rawSession,
  startTestRelay,
  type TestDevice,
  type TestRelay,
} from './relay.testkit.ts';

/**
 * Relays, sync clients and raw sessions a test starts, stopped (in reverse) after each test.
 * Call once at the top of a test file.
 */
export function useRelayHarness() {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  return {
    defer(f: () => Promise<void> | void): void {
      cleanup.push(f);
    },
    async relay(over: Partial<RelayConfig> = {}, opts: { log?: Logger } = {}): Promise<TestRelay> {
      const r = await startTestRelay(over, opts.log);
      cleanup.push(() => r.stop());
      return r;
    },
    client(dev: TestDevice, r: TestRelay): SyncClient {
      const c = makeClient(dev, r.url);
      cleanup.push(() => c.stop());
      return c;
    },
    async session(dev: TestDevice, r: TestRelay, opts: { forge?: boolean } = {}): Promise<RawSession> {
      const s = await rawSession(dev, r.url, opts);
      cleanup.push(() => s.close());
      return s;
    },
  };
}

/** Writes an event title as the worker would: a local op, queued for upload. */
export async function writeTitle(dev: TestDevice, doc: DocId, entity: string, title: string): Promise<OpId> {
  const op = await dev.replica.write(doc, entity as EntityId, [
    { field: EventField.Title, value: encodeValue('text', title) },
  ]);
  dev.track(op);
  return op.id;
}

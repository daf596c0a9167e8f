// The host for when storage is unusable (startEngineHost in host.ts returns it instead of
// throwing): every call fails with the Storage error, every subscriber is told it.

import { EngineError } from '../engine/index.ts';
import type { HostError } from './api.ts';
import { type Host, hostApiOf } from './host-api.ts';

export function hostError(e: unknown): HostError {
  const err =
    e instanceof EngineError ? e : new EngineError('Storage', e instanceof Error ? e.message : String(e));
  return { code: err.code, message: err.message };
}

/** A host for when storage is unusable: every call fails with the reason; nothing crashes. */
export function unavailableHost(error: HostError): Host {
  const fail = async (): Promise<never> => {
    throw new EngineError('Storage', error.message.replace(/^Storage: /, ''));
  };
  return {
    ...hostApiOf(() => fail),
    setOnline: async () => {},
    syncStatus: async () => ({
      state: 'offline',
      pendingUploads: 0,
      lastSyncedAt: null,
      clockOffsetMs: null,
      detail: error.message,
    }),
    onEvent(cb) {
      cb({ type: 'error', error });
      return () => {};
    },
    close() {},
  };
}

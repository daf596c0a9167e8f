// IndexedDB's failures as the engine's Storage errors, with a message a user can act on.

import { EngineError } from '../engine/index.ts';

/** Turns a DOMException (or anything) from IndexedDB into a Storage error the UI can show. */
export function storageError(e: unknown, context: string): EngineError {
  if (e instanceof EngineError) {
    return e.code === 'Storage' || e.code === 'InvalidArgument'
      ? e
      : new EngineError('Storage', `${context}: ${e.message}`, e.opId, { cause: e });
  }
  const name = e instanceof Error || isDomExceptionLike(e) ? (e as { name: string }).name : '';
  const msg = e instanceof Error || isDomExceptionLike(e) ? (e as { message: string }).message : String(e);
  const why =
    name === 'QuotaExceededError'
      ? 'the browser storage for this site is full; free space or delete old data. Nothing was saved'
      : name === 'InvalidStateError'
        ? 'the database is closed or unavailable (private mode, or another tab upgraded it); reload the page'
        : name === 'VersionError'
          ? 'the stored database is newer than this version of the app; reload to update'
          : name === 'UnknownError'
            ? 'the browser could not read or write its storage (disk error or storage cleared)'
            : name === 'AbortError'
              ? 'the write was aborted and nothing was saved'
              : msg;
  return new EngineError(
    'Storage',
    `${context}: ${why}${name && why !== msg ? ` (${name}: ${msg})` : ''}`,
    undefined,
    {
      cause: e,
    },
  );
}

function isDomExceptionLike(e: unknown): boolean {
  return typeof e === 'object' && e !== null && typeof (e as { name?: unknown }).name === 'string';
}

export function abortQuietly(tx: { abort(): void }): void {
  try {
    tx.abort();
  } catch {
    // Already finished or aborted: nothing was committed by us either way.
  }
}

export const isError = (e: unknown, name: string): boolean =>
  (e instanceof Error || isDomExceptionLike(e)) && (e as { name: string }).name === name;
export const isAbortError = (e: unknown): boolean => isError(e, 'AbortError');

// Storage faults for the worker's store and crash tests (fake-indexeddb in Node): a quota error
// thrown by the n-th call of an IndexedDB object store method, as a full disk would throw it.

/** Runs `fn` with IDBObjectStore.prototype[method] replaced so its `failOn`-th call throws. */
export async function failing<T>(
  method: 'put' | 'add' | 'delete',
  failOn: number,
  fn: () => Promise<T>,
): Promise<T> {
  const proto = globalThis.IDBObjectStore.prototype as unknown as Record<
    string,
    (...a: unknown[]) => unknown
  >;
  const original = proto[method]!;
  let calls = 0;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    calls += 1;
    if (calls === failOn) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    return original.apply(this, args);
  };
  try {
    return await fn();
  } finally {
    proto[method] = original;
  }
}

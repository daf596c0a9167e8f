// Typed errors. Nothing from the wire, from storage or from a caller escapes the public API as
// an untyped throw: every failure is an EngineError with a code from this list.

export type ErrorCode =
  /** Bytes are not a well-formed SignedOp / OpHeader / body, or a field has the wrong length. */
  | 'Malformed'
  /** Input exceeds a size limit (op bytes, parents, writes, value length). */
  | 'TooLarge'
  /** Wire format version or op type this engine does not read. */
  | 'Unsupported'
  /** The signature does not verify for the author's key. */
  | 'BadSignature'
  /** SHA-256 of the body differs from the header's body_hash. */
  | 'BadBodyHash'
  /** The op, or one of its parents, belongs to another calendar. */
  | 'WrongDoc'
  /** The calendar is not known to this replica (no genesis). */
  | 'UnknownDoc'
  /** The author is not a member in the op's causal past (or the membership op is not allowed). */
  | 'NotMember'
  /** wall_time does not exceed every predecessor's wall_time (CLK-2). */
  | 'ClockRule'
  /** ctr / prev do not form the author's chain (CLK-3). */
  | 'ChainRule'
  /** The pending set for this calendar is full (DAG-4); the op was not kept. */
  | 'PendingFull'
  /** The storage backend failed (quota, unavailable, corrupt record). State is unchanged. */
  | 'Storage'
  /** A local call with invalid arguments. */
  | 'InvalidArgument'
  /** No content key is available for writing to this calendar. */
  | 'NoKey'
  /** An Add by invite names no invite of this calendar in its causal past, or its proof is forged. */
  | 'InviteInvalid'
  /** An Add by invite is dated after the invite's expiry (or the relay's clock says it expired). */
  | 'InviteExpired'
  /** The invite was already used (single use). */
  | 'InviteUsed'
  /** The author's role in the op's causal past does not allow the op (ROLE-4). */
  | 'NotPermitted';

export class EngineError extends Error {
  readonly code: ErrorCode;
  /** The op the error is about, when known (hex op id). */
  readonly opId: string | undefined;

  constructor(code: ErrorCode, message: string, opId?: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'EngineError';
    this.code = code;
    this.opId = opId;
  }
}

export const isEngineError = (e: unknown): e is EngineError => e instanceof EngineError;

/** Wraps anything thrown by a dependency (storage, crypto) so callers only ever see EngineError. */
export function toEngineError(e: unknown, code: ErrorCode, context: string): EngineError {
  if (e instanceof EngineError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new EngineError(code, `${context}: ${msg}`, undefined, { cause: e });
}

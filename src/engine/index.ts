// Public API of the engine. Hosts (the worker, the relay, tests, benchmarks) import from here only.

export {
  BOX_PROOF_BYTES,
  boxProofMessage,
  type DeviceCard,
  signDeviceCard,
  signSponsorCard,
  sponsorMessage,
} from './box-proof.ts';
export { bytesEqual, compareBytes, fromHex, fromUtf8, toHex, utf8 } from './bytes.ts';
export {
  type BaseFieldName,
  type CalendarEvent,
  CalendarField,
  type CalendarProps,
  calendarFromRecord,
  decodeValue,
  EDITABLE_FIELDS,
  type EditableFieldName,
  type EditableValues,
  EVENT_FIELDS,
  EventField,
  type EventFieldName,
  type EventValues,
  encodeValue,
  eventFieldByName,
  eventFromRecord,
  fieldName,
  fieldType,
  isEditableField,
  isValidWrite,
  isValueOf,
  SCHEMA_VERSION,
  type Value,
  type ValueType,
  type WriteInfo,
} from './calendar.ts';
export { type Certification, certificationOf } from './certification.ts';
export type { EndorsementStatus } from './certify.ts';
export {
  decodeMembership,
  encodeMembership,
  LIMITS,
  type MembershipBody,
  MembershipKind,
  WIRE_FORMAT,
  type WrappedKeyValue,
} from './codec.ts';
export {
  type CryptoProvider,
  createBestCrypto,
  createNobleCrypto,
  createNobleSigner,
  createWebCrypto,
  createWebCryptoSigner,
  type Signer,
  type SubtleLike,
} from './crypto.ts';
export { EngineError, type ErrorCode, isEngineError, toEngineError } from './errors.ts';
export { FlatVerifyError, type TableSpec, verifyRoot } from './flatverify.ts';
export { opDigest, sha256, taggedHash } from './hash.ts';
export {
  type EntityHistory,
  type FieldHistory,
  type HistoryEntry,
  type HistoryOptions,
  type HistoryStatus,
  MAX_HISTORY_LIMIT,
} from './history.ts';
export {
  CALENDAR_ENTITY,
  type DeviceId,
  type DocId,
  type EntityId,
  isDeviceId,
  isDocId,
  isEntityId,
  isKeyId,
  isOpId,
  type KeyId,
  type OpId,
} from './ids.ts';
export {
  deviceFingerprint,
  INVITE_PROOF_BYTES,
  inviteKeys,
  inviteMessage,
  inviteProof,
  signInvite,
} from './invite.ts';
export { keyIdOf } from './keyring.ts';
export { compareWrites, frontier, MAX_CONCURRENT_WRITES } from './lww.ts';
export type { MemberInfo } from './membership.ts';
export { createMemoryStore, type MemoryStoreOptions } from './memory-store.ts';
export { docIdFromGenesis, keyIdFromOp, type OpenedOp, openOp, verifyOp } from './op.ts';
export type { PruneStatus } from './prune.ts';
export type { PruneConsent } from './prune-relay.ts';
export {
  type ApplyResult,
  type ApplyStatus,
  type ChangeEvent,
  DEFAULT_PENDING_LIMIT,
  type DeviceKeys,
  type LocalOp,
  type NewWrite,
  Replica,
  type ReplicaOptions,
} from './replica.ts';
export {
  canManage,
  canWriteEvents,
  isMemberRole,
  isRoleName,
  type MemberRole,
  ROLE_NAMES,
  Role,
  type RoleName,
  roleFromName,
  roleName,
} from './roles.ts';
export {
  type ByDay,
  FREQS,
  type Freq,
  formatRRule,
  parseRRule,
  type RRuleParts,
  WEEKDAYS,
  type Weekday,
} from './rrule.ts';
export { type BoxKeyPair, boxKeyPairFromSecret, openSealed, seal } from './seal.ts';
export { canonicalWall, overrideId, splitId } from './series.ts';
export { decodeSnapshot } from './snapshot-codec.ts';
export {
  CHUNK_PLAIN_BYTES,
  checkChunks,
  chunkBytes,
  chunkHash,
  type Endorsement,
  MAX_CHUNK_BYTES,
  MAX_CHUNKS,
  MAX_FRONTIER,
  type Manifest,
  type OpenedEndorsement,
  type OpenedManifest,
  openEndorsement,
  openManifest,
} from './snapshot-envelope.ts';
export type { SealedSnapshot } from './snapshot-sealed.ts';
export { type SnapshotEvidence, type SnapshotVerdict, snapshotHash } from './snapshot-verify.ts';
export type {
  BodyState,
  CommitBatch,
  DeviceRecord,
  DocRecord,
  EndorsementRecord,
  EngineStore,
  EntityRecord,
  EquivocationRecord,
  LoadedDoc,
  OpRecord,
  PendingRecord,
  RegisterRecord,
  WriteRecord,
} from './store.ts';
export { OpKind } from './store.ts';

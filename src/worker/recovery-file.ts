// The recovery file (docs/PROTOCOL.md REC-*): a password-protected file holding, for each calendar
// it covers, a long-lived single-use invite (INV-1) and the calendar's name. Nothing in it is a
// device key: a device restored from it is a new device that joins by those invites, so no two
// devices ever sign with one key. The file is JSON around one XChaCha20-Poly1305 ciphertext whose
// key is Argon2id (RFC 9106) of the password; every field is checked before anything is derived,
// and KDF parameters are bounded so a hostile file cannot make the worker allocate without limit.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { argon2idAsync } from '@noble/hashes/argon2.js';
import { type DocId, fromHex, fromUtf8, isDocId, type OpId, toHex, utf8 } from '../engine/index.ts';
import { base64url, fromBase64url } from './invite-link.ts';

export const RECOVERY_FORMAT = 'ledgerday-recovery';
export const RECOVERY_VERSION = 1;
/** RFC 9106's second recommended setting, with one lane (JavaScript runs one thread here). */
export const RECOVERY_KDF = { memoryKiB: 65_536, passes: 3, parallelism: 1 } as const;
/** Bounds a file's KDF parameters must meet (memory is what a hostile file could inflate). */
const KDF_BOUNDS = { memoryKiB: [19_456, 131_072], passes: [2, 10], parallelism: [1, 4] } as const;
export const MIN_PASSWORD_LENGTH = 10;
/** Larger files are refused before parsing (a file covers at most MAX_RECOVERY_CALENDARS). */
export const MAX_RECOVERY_FILE_CHARS = 512 * 1024;
export const MAX_RECOVERY_CALENDARS = 500;
const AAD_TAG = 'ledgerday/recovery/v1\0';

export interface RecoveryCalendar {
  doc: DocId;
  name: string;
  invite: OpId;
  secret: Uint8Array;
}

export interface RecoveryContents {
  /** ms since the epoch */
  madeAt: number;
  /** ms since the epoch: the invites' expiry */
  expiresAt: number;
  calendars: RecoveryCalendar[];
}

/** A recovery file that cannot be used; `code` crosses the worker boundary as is. */
export class RecoveryFileError extends Error {
  readonly code: 'InvalidRecoveryFile' | 'WrongPassword' | 'WeakPassword';
  constructor(code: RecoveryFileError['code'], message: string) {
    super(`${code}: ${message}`);
    this.name = 'RecoveryFileError';
    this.code = code;
  }
}

interface KdfParams {
  memoryKiB: number;
  passes: number;
  parallelism: number;
  salt: Uint8Array;
}

async function deriveKey(password: string, p: KdfParams): Promise<Uint8Array> {
  return argon2idAsync(utf8(password.normalize('NFC')), p.salt, {
    m: p.memoryKiB,
    t: p.passes,
    p: p.parallelism,
    dkLen: 32,
    // Yields to the worker's event loop every few ms: other tabs' calls are not frozen meanwhile.
    asyncTick: 10,
  });
}

/** The associated data: the KDF parameters, so none can be changed without the key failing. */
function aadOf(p: KdfParams): Uint8Array {
  return utf8(`${AAD_TAG}${p.memoryKiB}/${p.passes}/${p.parallelism}/${base64url(p.salt)}`);
}

/** Refuses a password too short to protect a file anyone may copy (offline guessing). */
export function checkRecoveryPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || [...password.normalize('NFC')].length < MIN_PASSWORD_LENGTH) {
    throw new RecoveryFileError(
      'WeakPassword',
      `a recovery password has at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
}

export async function sealRecoveryFile(
  contents: RecoveryContents,
  password: string,
  random: (n: number) => Uint8Array,
  kdf: Omit<KdfParams, 'salt'> = RECOVERY_KDF,
): Promise<string> {
  checkRecoveryPassword(password);
  const params: KdfParams = { ...kdf, salt: random(16) };
  const key = await deriveKey(password, params);
  const nonce = random(24);
  const plain = utf8(
    JSON.stringify({
      madeAt: contents.madeAt,
      expiresAt: contents.expiresAt,
      calendars: contents.calendars.map((c) => ({
        doc: c.doc,
        name: c.name,
        invite: c.invite,
        secret: toHex(c.secret),
      })),
    }),
  );
  const data = xchacha20poly1305(key, nonce, aadOf(params)).encrypt(plain);
  return `${JSON.stringify(
    {
      format: RECOVERY_FORMAT,
      version: RECOVERY_VERSION,
      kdf: 'argon2id',
      memoryKiB: params.memoryKiB,
      passes: params.passes,
      parallelism: params.parallelism,
      salt: base64url(params.salt),
      nonce: base64url(nonce),
      data: base64url(data),
    },
    null,
    2,
  )}\n`;
}

const bad = (why: string) =>
  new RecoveryFileError('InvalidRecoveryFile', `this is not a usable recovery file (${why})`);

/** Reads the outer JSON strictly: the format, version and every parameter before any work. */
export function readRecoveryEnvelope(text: string): {
  params: KdfParams;
  nonce: Uint8Array;
  data: Uint8Array;
} {
  if (typeof text !== 'string') throw bad('not text');
  if (text.length > MAX_RECOVERY_FILE_CHARS) throw bad('too large');
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('not an object');
  const r = o as Record<string, unknown>;
  if (r['format'] !== RECOVERY_FORMAT) throw bad('not a Ledgerday recovery file');
  if (r['version'] !== RECOVERY_VERSION) throw bad(`version ${String(r['version'])} is not supported`);
  if (r['kdf'] !== 'argon2id') throw bad('unknown key derivation');
  const num = (k: keyof typeof KDF_BOUNDS): number => {
    const v = r[k];
    const [lo, hi] = KDF_BOUNDS[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw bad(`${k} out of range`);
    return v;
  };
  const bytes = (k: string, len?: [number, number]): Uint8Array => {
    const v = r[k];
    if (typeof v !== 'string') throw bad(`${k} missing`);
    let b: Uint8Array;
    try {
      b = fromBase64url(v);
    } catch {
      throw bad(`${k} is not base64url`);
    }
    if (len !== undefined && (b.length < len[0] || b.length > len[1])) throw bad(`${k} has the wrong length`);
    return b;
  };
  const params = {
    memoryKiB: num('memoryKiB'),
    passes: num('passes'),
    parallelism: num('parallelism'),
    salt: bytes('salt', [16, 16]),
  };
  if (params.memoryKiB < 8 * params.parallelism) throw bad('memoryKiB out of range');
  return { params, nonce: bytes('nonce', [24, 24]), data: bytes('data', [17, MAX_RECOVERY_FILE_CHARS]) };
}

export async function openRecoveryFile(text: string, password: string): Promise<RecoveryContents> {
  const { params, nonce, data } = readRecoveryEnvelope(text);
  if (typeof password !== 'string' || password === '')
    throw new RecoveryFileError('WrongPassword', 'enter the file’s password');
  const key = await deriveKey(password, params);
  let plain: Uint8Array;
  try {
    plain = xchacha20poly1305(key, nonce, aadOf(params)).decrypt(data);
  } catch {
    throw new RecoveryFileError('WrongPassword', 'the password is wrong, or the file was changed');
  }
  let json: string;
  try {
    json = fromUtf8(plain);
  } catch {
    throw bad('contents are not text');
  }
  return parseContents(json);
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The decrypted contents, checked field by field (a file made by anything else is refused). */
function parseContents(json: string): RecoveryContents {
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch {
    throw bad('contents are not JSON');
  }
  const r = o as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null) throw bad('contents are not an object');
  const { madeAt, expiresAt, calendars } = r;
  if (!Number.isSafeInteger(madeAt) || !Number.isSafeInteger(expiresAt)) throw bad('dates missing');
  if (!Array.isArray(calendars) || calendars.length === 0 || calendars.length > MAX_RECOVERY_CALENDARS)
    throw bad('no calendars');
  const seen = new Set<string>();
  const out: RecoveryCalendar[] = calendars.map((c: unknown) => {
    const e = c as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null) throw bad('a calendar entry is not an object');
    const { doc, name, invite, secret } = e;
    if (typeof doc !== 'string' || !isDocId(doc) || seen.has(doc))
      throw bad('a calendar id is wrong or repeated');
    seen.add(doc);
    if (typeof name !== 'string' || name.length > 200) throw bad('a calendar name is wrong');
    if (typeof invite !== 'string' || !HEX64.test(invite)) throw bad('an invite id is wrong');
    if (typeof secret !== 'string' || !HEX64.test(secret)) throw bad('an invite secret is wrong');
    return { doc, name, invite: invite as OpId, secret: fromHex(secret) };
  });
  return { madeAt: madeAt as number, expiresAt: expiresAt as number, calendars: out };
}

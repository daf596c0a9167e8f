import { describe, expect, it } from 'vitest';
import type { DocId, OpId } from '../engine/index.ts';
import { base64url } from './invite-link.ts';
import {
  MAX_RECOVERY_FILE_CHARS,
  openRecoveryFile,
  type RecoveryContents,
  RecoveryFileError,
  readRecoveryEnvelope,
  sealRecoveryFile,
} from './recovery-file.ts';

let counter = 1;
const random = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + counter++) & 255);
/** The cheapest setting the reader accepts, so the tests stay fast; the app uses RECOVERY_KDF. */
const FAST = { memoryKiB: 19_456, passes: 2, parallelism: 1 };
const PASSWORD = 'correct horse battery';

const contents: RecoveryContents = {
  madeAt: 1_790_000_000_000,
  expiresAt: 1_821_536_000_000,
  calendars: [
    {
      doc: 'a'.repeat(32) as DocId,
      name: 'Personal',
      invite: 'b'.repeat(64) as OpId,
      secret: new Uint8Array(32).fill(7),
    },
    {
      doc: 'c'.repeat(32) as DocId,
      name: 'Work “team”',
      invite: 'd'.repeat(64) as OpId,
      secret: new Uint8Array(32).fill(9),
    },
  ],
};

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RecoveryFileError);
    return (e as RecoveryFileError).code;
  }
  return 'none';
}

/** The file's JSON with some fields replaced (a hostile or damaged file). */
function edit(text: string, patch: Record<string, unknown>): string {
  return JSON.stringify({ ...JSON.parse(text), ...patch });
}

describe('recovery file', () => {
  it('[REC-1] round trip: the file holds each calendar’s invite and name, and opens only with its password', async () => {
    const text = await sealRecoveryFile(contents, PASSWORD, random, FAST);
    const opened = await openRecoveryFile(text, PASSWORD);
    expect(opened).toEqual(contents);
    // Nothing secret in the clear: no invite id, secret or calendar name appears in the file.
    for (const c of contents.calendars) {
      expect(text).not.toContain(c.invite);
      expect(text).not.toContain(c.name);
      expect(text).not.toContain(c.doc);
    }
    expect(await code(openRecoveryFile(text, 'correct horse batterz'))).toBe('WrongPassword');
    expect(await code(openRecoveryFile(text, ''))).toBe('WrongPassword');
  });

  it('[REC-1] a password shorter than 10 characters is refused before anything is derived', async () => {
    expect(await code(sealRecoveryFile(contents, 'short', random, FAST))).toBe('WeakPassword');
    // Characters, not UTF-16 units: ten emoji are ten characters.
    await expect(sealRecoveryFile(contents, '🙂'.repeat(10), random, FAST)).resolves.toContain('argon2id');
  });

  it('[REC-5] a changed byte anywhere (data, nonce, salt, parameters) fails as a wrong password or a damaged file, never as other contents', async () => {
    const text = await sealRecoveryFile(contents, PASSWORD, random, FAST);
    const o = JSON.parse(text) as Record<string, string>;
    const flip = (b64: string) => {
      const c = b64[5] === 'A' ? 'B' : 'A';
      return b64.slice(0, 5) + c + b64.slice(6);
    };
    for (const k of ['data', 'nonce', 'salt']) {
      expect(await code(openRecoveryFile(edit(text, { [k]: flip(o[k]!) }), PASSWORD))).toBe('WrongPassword');
    }
    expect(await code(openRecoveryFile(edit(text, { passes: 3 }), PASSWORD))).toBe('WrongPassword');
  });

  it('[REC-5] damaged or hostile files are refused with InvalidRecoveryFile before any key is derived (bounded memory)', () => {
    const ok = {
      format: 'ledgerday-recovery',
      version: 1,
      kdf: 'argon2id',
      ...FAST,
      salt: base64url(new Uint8Array(16)),
      nonce: base64url(new Uint8Array(24)),
      data: base64url(new Uint8Array(40)),
    };
    const cases: unknown[] = [
      'not json',
      '[]',
      'null',
      { ...ok, format: 'something-else' },
      { ...ok, version: 2 },
      { ...ok, kdf: 'scrypt' },
      // A file asking for 4 GiB, or endless passes: refused, never attempted.
      { ...ok, memoryKiB: 4 * 1024 * 1024 },
      { ...ok, passes: 1_000_000 },
      { ...ok, parallelism: 0 },
      { ...ok, memoryKiB: 19_456.5 },
      { ...ok, salt: base64url(new Uint8Array(8)) },
      { ...ok, nonce: base64url(new Uint8Array(12)) },
      { ...ok, nonce: 'not base64url!' },
      { ...ok, data: '' },
      { ...ok, salt: undefined },
    ];
    for (const c of cases) {
      const text = typeof c === 'string' ? c : JSON.stringify(c);
      let err: unknown;
      try {
        readRecoveryEnvelope(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(RecoveryFileError);
      expect((err as RecoveryFileError).code).toBe('InvalidRecoveryFile');
    }
    expect(() => readRecoveryEnvelope(' '.repeat(MAX_RECOVERY_FILE_CHARS + 1))).toThrow(/too large/);
    expect(() => readRecoveryEnvelope(JSON.stringify(ok))).not.toThrow();
  });

  it('[REC-5] contents that decrypt but are not a valid list of calendars are refused', async () => {
    const bad: unknown[] = [
      { ...contents, calendars: [] },
      { ...contents, calendars: [contents.calendars[0], contents.calendars[0]] },
      { ...contents, calendars: [{ ...contents.calendars[0], doc: 'xyz' }] },
      { ...contents, calendars: [{ ...contents.calendars[0], secret: new Uint8Array(31) }] },
      { ...contents, madeAt: 'yesterday' },
    ];
    for (const c of bad) {
      const text = await sealRecoveryFile(c as RecoveryContents, PASSWORD, random, FAST);
      expect(await code(openRecoveryFile(text, PASSWORD))).toBe('InvalidRecoveryFile');
    }
  });
});

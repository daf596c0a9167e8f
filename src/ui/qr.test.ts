import { describe, expect, it } from 'vitest';
import { modulesPath, QUIET_ZONE, qrSvg } from './qr.ts';

/** Sum of the run lengths in a path made by modulesPath = number of dark modules drawn. */
function area(path: string): number {
  return [...path.matchAll(/h(\d+)v1/g)].reduce((n, m) => n + Number(m[1]), 0);
}

describe('QR code of an invite link', () => {
  it('merges horizontal runs and offsets by the quiet zone', () => {
    // 3x3: row 0 = dark dark light, row 1 = light, row 2 = dark light dark
    const data = [1, 1, 0, 0, 0, 0, 1, 0, 1];
    expect(modulesPath(3, data)).toBe(
      `M${QUIET_ZONE} ${QUIET_ZONE}h2v1h-2zM${QUIET_ZONE} ${QUIET_ZONE + 2}h1v1h-1zM${QUIET_ZONE + 2} ${QUIET_ZONE + 2}h1v1h-1z`,
    );
    expect(modulesPath(2, [0, 0, 0, 0])).toBe('');
  });

  it('encodes a typical link at a size a camera reads, with finder patterns in three corners', () => {
    const url = `https://cal.example.org/#/join/${'A1b2-C3d4_'.repeat(12)}`;
    const qr = qrSvg(url);
    expect((qr.size - 17) % 4).toBe(0); // 4 * version + 17
    expect(qr.size).toBeLessThanOrEqual(57); // version <= 10
    expect(qr.box).toBe(qr.size + 2 * QUIET_ZONE);
    const q = QUIET_ZONE;
    // Each finder pattern's top row is a run of 7 dark modules.
    expect(qr.path.startsWith(`M${q} ${q}h7v1h-7z`)).toBe(true);
    expect(qr.path).toContain(`M${q + qr.size - 7} ${q}h7v1h-7z`);
    expect(qr.path).toContain(`M${q} ${q + qr.size - 1}h7v1h-7z`);
    // Roughly half the modules are dark (masking balances them); an empty or full code fails.
    const ratio = area(qr.path) / (qr.size * qr.size);
    expect(ratio).toBeGreaterThan(0.35);
    expect(ratio).toBeLessThan(0.65);
  });

  it('different links give different codes; the same link the same code', () => {
    const a = qrSvg('https://x.test/#/join/aaaa');
    expect(qrSvg('https://x.test/#/join/aaaa').path).toBe(a.path);
    expect(qrSvg('https://x.test/#/join/aaab').path).not.toBe(a.path);
  });

  it('a link too long for any QR code is an error, not a broken image', () => {
    expect(() => qrSvg(`https://x.test/#/join/${'x'.repeat(5000)}`)).toThrow();
  });
});

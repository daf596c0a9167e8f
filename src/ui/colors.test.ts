import { describe, expect, it } from 'vitest';
import { contrast, isHexColor, PALETTE, textOn } from './colors.ts';

describe('colours', () => {
  it('[UI-5] text on any fill meets WCAG AA 4.5:1', () => {
    const samples = [
      ...PALETTE,
      '#777777',
      '#808080',
      '#ffff00',
      '#0000ff',
      '#00ff00',
      '#ff0000',
      '#000000',
      '#ffffff',
    ];
    for (let i = 0; i < 512; i++) {
      const v = (i * 2654435761) >>> 8;
      samples.push(`#${(v & 0xffffff).toString(16).padStart(6, '0')}`);
    }
    for (const c of samples) expect(contrast(c, textOn(c))).toBeGreaterThanOrEqual(4.5);
  });

  it('validates hex colours', () => {
    expect(isHexColor('#1a73e8')).toBe(true);
    expect(isHexColor('red')).toBe(false);
    expect(isHexColor('#1a73e')).toBe(false);
    expect(textOn('not a colour')).toMatch(/^#/);
  });
});

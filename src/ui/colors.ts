// Calendar colours: a palette, validation of "#rrggbb", and the text colour that stays readable on it.

export const PALETTE = [
  '#1a73e8',
  '#0b8043',
  '#d50000',
  '#f4511e',
  '#8e24aa',
  '#039be5',
  '#e67c73',
  '#616161',
];

export function isHexColor(s: string): boolean {
  return /^#[0-9a-fA-F]{6}$/.test(s);
}

function luminance(hex: string): number {
  const ch = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
}

export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
}

/**
 * Black or near-white text, whichever contrasts more with the fill. For any sRGB colour the better
 * of the two reaches at least 4.58:1 (the worst case is a mid grey), so WCAG AA always holds.
 */
export function textOn(bg: string): string {
  const fill = isHexColor(bg) ? bg : '#616161';
  // White reads calmer on saturated calendar colours; use it whenever it passes AA.
  if (contrast(fill, '#ffffff') >= 4.5) return '#ffffff';
  return contrast(fill, '#000000') >= contrast(fill, '#ffffff') ? '#000000' : '#ffffff';
}

export function safeColor(c: string): string {
  return isHexColor(c) ? c : '#616161';
}

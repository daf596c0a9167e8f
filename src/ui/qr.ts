// QR code of an invite link, drawn locally as one SVG path (the link holds a secret: it must never
// reach a QR web service). Encoding by the `qrcode` package's pure encoder.
import { create } from 'qrcode/lib/core/qrcode.js';

export interface QrSvg {
  /** Modules per side, without the quiet zone. */
  size: number;
  /** viewBox side, including a 4-module quiet zone on every side (ISO/IEC 18004 §6.3.8). */
  box: number;
  /** Path data: one rectangle per horizontal run of dark modules. */
  path: string;
}

export const QUIET_ZONE = 4;

/**
 * Error correction L (7 %): a screen does not get scratched or stained, and every level up adds
 * modules; a link with two calendars (~230 characters) stays at version 8, whose modules are
 * still 4 px wide at the 260 px the dialog draws, which phone cameras read easily.
 */
export function qrSvg(text: string): QrSvg {
  const { modules } = create(text, { errorCorrectionLevel: 'L' });
  return {
    size: modules.size,
    box: modules.size + 2 * QUIET_ZONE,
    path: modulesPath(modules.size, modules.data),
  };
}

/** Row-major dark modules (non-zero) -> SVG path, merging runs so the path stays small. */
export function modulesPath(size: number, data: ArrayLike<number>): string {
  const parts: string[] = [];
  for (let y = 0; y < size; y++) {
    let x = 0;
    while (x < size) {
      if (!data[y * size + x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < size && data[y * size + x]) x++;
      parts.push(`M${start + QUIET_ZONE} ${y + QUIET_ZONE}h${x - start}v1h${start - x}z`);
    }
  }
  return parts.join('');
}

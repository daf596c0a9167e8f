// Generates the PWA icons (public/icons/*.png) with a tiny PNG encoder over node:zlib; no image deps.
// Run: node scripts/make-icons.mjs. The drawing matches public/icon.svg (calendar page on blue).
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** RGBA pixels -> PNG (colour type 6, 8 bits, filter 0 per row). */
export function encodePng(w, h, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 4 + 1)] = 0;
    rgba.copy(raw, y * (w * 4 + 1) + 1, y * w * 4, (y + 1) * w * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const BLUE = [26, 115, 232];
const WHITE = [255, 255, 255];
const INK = [26, 115, 232];
const RED = [217, 48, 37];

function inRoundRect(x, y, x0, y0, x1, y1, r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** Colour at unit coordinates (0..1) or null (transparent). `safe` shrinks the art into the maskable zone. */
function shade(u, v, { maskable }) {
  const bgHit = maskable ? true : inRoundRect(u, v, 0, 0, 1, 1, 0.22);
  if (!bgHit) return null;
  // Art coordinates: maskable icons keep content inside the central 80% circle.
  const s = maskable ? 0.62 : 0.78;
  const x = (u - 0.5) / s + 0.5;
  const y = (v - 0.5) / s + 0.5;
  if (inRoundRect(x, y, 0.12, 0.16, 0.88, 0.9, 0.08)) {
    if (y < 0.34) return RED; // page header
    // A 3x3 grid of day marks, the middle one filled (today).
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        const cx = 0.28 + c * 0.22;
        const cy = 0.47 + r * 0.14;
        if (inRoundRect(x, y, cx - 0.06, cy - 0.045, cx + 0.06, cy + 0.045, 0.02))
          return r === 1 && c === 1 ? INK : [200, 214, 240];
      }
    }
    return WHITE;
  }
  // Binder rings above the page.
  for (const cx of [0.32, 0.68])
    if (inRoundRect(x, y, cx - 0.035, 0.09, cx + 0.035, 0.24, 0.03)) return WHITE;
  return BLUE;
}

function render(size, opts) {
  const SS = 4; // 4x4 supersampling for smooth edges
  const px = Buffer.alloc(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const c = shade((x + (sx + 0.5) / SS) / size, (y + (sy + 0.5) / SS) / size, opts);
          if (!c) continue;
          r += c[0];
          g += c[1];
          b += c[2];
          a += 1;
        }
      }
      const i = (y * size + x) * 4;
      if (a > 0) {
        px[i] = Math.round(r / a);
        px[i + 1] = Math.round(g / a);
        px[i + 2] = Math.round(b / a);
      }
      px[i + 3] = Math.round((a / (SS * SS)) * 255);
    }
  }
  return encodePng(size, size, px);
}

const out = new URL('../public/icons/', import.meta.url);
mkdirSync(out, { recursive: true });
const files = [
  ['icon-192.png', 192, { maskable: false }],
  ['icon-512.png', 512, { maskable: false }],
  ['maskable-512.png', 512, { maskable: true }],
  ['apple-touch-icon-180.png', 180, { maskable: true }],
];
for (const [name, size, opts] of files) {
  writeFileSync(new URL(name, out), render(size, opts));
  console.log(`wrote public/icons/${name}`);
}

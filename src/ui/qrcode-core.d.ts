// Types for the one module of `qrcode` the UI uses: the pure encoder (no canvas, no Node streams),
// imported directly so the bundle carries neither renderer and @types/qrcode's Node types stay out.
declare module 'qrcode/lib/core/qrcode.js' {
  export function create(
    text: string,
    options?: { errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H' },
  ): { version: number; modules: { size: number; data: Uint8Array } };
}

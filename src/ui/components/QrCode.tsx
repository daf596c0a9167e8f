// An invite link as a QR code: encoded and drawn here (lazy-loaded encoder), black on white in every
// colour scheme because phone cameras expect dark modules on a light ground.
import { useEffect, useState } from 'react';
import type { QrSvg } from '../qr.ts';

export function QrCode(props: { text: string; label: string; px?: number }) {
  const [qr, setQr] = useState<QrSvg | { error: string } | null>(null);
  useEffect(() => {
    let live = true;
    setQr(null);
    // A separate chunk: the encoder is only needed when someone shares.
    import('../qr.ts').then(
      (m) => {
        try {
          const svg = m.qrSvg(props.text);
          if (live) setQr(svg);
        } catch (e) {
          // Only a link longer than a QR code holds (~2,900 bytes at level L) gets here.
          if (live) setQr({ error: String((e as Error)?.message ?? e) });
        }
      },
      (e: unknown) => live && setQr({ error: String((e as Error)?.message ?? e) }),
    );
    return () => {
      live = false;
    };
  }, [props.text]);
  const px = props.px ?? 260;
  if (qr === null)
    return <div className="qr qr-loading" style={{ width: px, height: px }} aria-hidden="true" />;
  if ('error' in qr)
    return <p className="muted">No QR code for this link ({qr.error}); copy the link instead.</p>;
  return (
    <svg
      className="qr"
      role="img"
      aria-label={props.label}
      width={px}
      height={px}
      viewBox={`0 0 ${qr.box} ${qr.box}`}
      shapeRendering="crispEdges"
    >
      <rect width={qr.box} height={qr.box} fill="#ffffff" />
      <path d={qr.path} fill="#000000" />
    </svg>
  );
}

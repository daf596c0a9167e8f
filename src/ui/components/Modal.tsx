// A native <dialog> opened modally: the browser gives focus trapping, Escape, inert background and role.
import { type ReactNode, useEffect, useRef } from 'react';

export function Modal(props: {
  label: string;
  /** id of the text that says what the dialog is about (aria-describedby). */
  describedBy?: string | undefined;
  onClose: () => void;
  className?: string;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!d.open) d.showModal();
    // showModal focuses the first focusable element (the close button); the form wants its first field.
    d.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose.current();
    };
    d.addEventListener('cancel', cancel);
    return () => {
      d.removeEventListener('cancel', cancel);
      if (d.open) d.close();
      // Return focus to what opened the dialog, if it still exists (keyboard users keep their place).
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-label={props.label}
      aria-describedby={props.describedBy}
      className={`modal ${props.className ?? ''}`}
    >
      {props.children}
    </dialog>
  );
}

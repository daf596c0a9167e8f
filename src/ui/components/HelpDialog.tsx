// Keyboard shortcuts help (opened with "?").
import { Modal } from './Modal.tsx';

export const SHORTCUTS: [string, string][] = [
  ['n', 'New event'],
  ['t', 'Go to today'],
  ['m / w / d / a', 'Month, week, day, agenda view'],
  ['j or → ', 'Next period'],
  ['k or ←', 'Previous period'],
  ['/', 'Search'],
  ['Enter', 'Open the focused event'],
  ['Alt + ↑ / ↓', 'Move the focused event 15 minutes (a week in month view)'],
  ['Alt + ← / →', 'Move the focused event a day'],
  ['Alt + Shift + ↑ / ↓', 'Shorten or lengthen the focused event'],
  ['Delete', 'Delete the focused event'],
  ['Ctrl/⌘ + Z', 'Undo'],
  ['?', 'This help'],
  ['Esc', 'Close a dialog or clear the search'],
];

export function HelpDialog(props: { onClose: () => void }) {
  return (
    <Modal label="Keyboard shortcuts" onClose={props.onClose} className="help-dialog">
      <header className="dialog-head">
        <h2>Keyboard shortcuts</h2>
        <button type="button" className="icon-btn" aria-label="Close" onClick={props.onClose}>
          ✕
        </button>
      </header>
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.map(([k, what]) => (
            <tr key={k}>
              <th scope="row">
                <kbd>{k}</kbd>
              </th>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted build">Build {__BUILD_ID__}</p>
    </Modal>
  );
}

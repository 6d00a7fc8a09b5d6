import { useRef, useState } from 'react';

/**
 * A command or value the user copies: shown in full, with a Copy button beside it. Without a
 * clipboard (a page served over plain HTTP from another host) the text is selected for Ctrl+C.
 */
export function CopyLine({ label, text }: { label: string; text: string }) {
  const [said, setSaid] = useState('');
  const code = useRef<HTMLElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setSaid('Copied');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code.current!);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      setSaid('Selected: press Ctrl+C');
    }
  };
  return (
    <div className="copy-line" role="group" aria-label={label}>
      <code ref={code} className="mono">
        {text}
      </code>
      <button type="button" onClick={copy} aria-label={`Copy ${label}`}>
        Copy
      </button>
      {said && <span role="status">{said}</span>}
    </div>
  );
}

import { useEffect, useRef } from 'react';
import { stream, type BerthEvent } from './api';

/**
 * One events WebSocket (the contract's followEvents) for the whole page, shared by every screen that shows state:
 * each refetches what an event touches, so a replica turning healthy or a release going live
 * shows up without a reload. Reconnects after a drop, and tells listeners so they catch up.
 */
type Listener = (e: BerthEvent | null) => void;
const listeners = new Set<Listener>();
let close: (() => void) | null = null;
let retry: ReturnType<typeof setTimeout> | undefined;

function connect() {
  close = stream('followEvents', {}, (msg) => {
    for (const l of listeners) l(msg);
  }, () => {
    close = null;
    retry = setTimeout(() => {
      if (listeners.size) {
        connect();
        for (const l of listeners) l(null);
      }
    }, 1000);
  });
}

export function subscribe(l: Listener): () => void {
  listeners.add(l);
  if (!close) connect();
  return () => {
    listeners.delete(l);
    if (!listeners.size) {
      clearTimeout(retry);
      close?.();
      close = null;
    }
  };
}

/** Calls onEvent for each live event that passes the filter (and once after a reconnect, with null). */
export function useEvents(onEvent: (e: BerthEvent | null) => void, filter: (e: BerthEvent) => boolean = () => true) {
  const ref = useRef({ onEvent, filter });
  ref.current = { onEvent, filter };
  useEffect(() => subscribe((e) => (e === null || ref.current.filter(e)) && ref.current.onEvent(e)), []);
}

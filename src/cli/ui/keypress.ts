/** What the person may press while the login waits. */
export type LoginKey = 'enter' | 'interrupt';

/**
 * Listens for single key presses on a terminal in raw mode, so Enter does not echo a newline through the spinner.
 * Ctrl-C arrives as a byte in raw mode, not as SIGINT, and is reported as `interrupt`. `stop()` restores the
 * terminal; it must run on every exit path.
 */
export function listenForKeys(stdin: NodeJS.ReadableStream, onKey: (key: LoginKey) => void): { stop(): void } {
  const tty = stdin as NodeJS.ReadableStream & { setRawMode?: (on: boolean) => void; isTTY?: boolean };
  const raw = Boolean(tty.isTTY && tty.setRawMode);
  if (raw) tty.setRawMode!(true);
  const onData = (chunk: Buffer | string) => {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.includes('\x03')) onKey('interrupt');
    else if (text.includes('\r') || text.includes('\n')) onKey('enter');
  };
  stdin.on('data', onData);
  stdin.resume();
  return {
    stop() {
      stdin.off('data', onData);
      if (raw) tty.setRawMode!(false);
      stdin.pause();
    },
  };
}

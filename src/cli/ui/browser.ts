import { spawn } from 'node:child_process';

/** Opens a URL in the person's browser; injected so tests record the URL instead. */
export interface Browser {
  open(url: string): Promise<void>;
}

/**
 * The system's way to open a URL: `$BROWSER` when set (as the GitHub CLI honours it), else `open` on macOS,
 * `start` on Windows and `xdg-open` elsewhere. The URL is passed as one argument, never through a shell.
 */
export function systemBrowser(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): Browser {
  return {
    async open(url) {
      const [command, args] = env['BROWSER']
        ? [env['BROWSER'], [url]]
        : platform === 'darwin'
          ? ['open', [url]]
          : platform === 'win32'
            ? ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]]
            : ['xdg-open', [url]];
      const child = spawn(command, args, { detached: true, stdio: 'ignore' });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      child.unref();
    },
  };
}

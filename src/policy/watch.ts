import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { digestOf, type LoadedPolicies, type PolicyEngine } from './engine.js';
import type { Logger } from '../shared/logger.js';
import { PolicyError, PolicyLoadError } from './errors.js';
import { POLICY_FILE_EXTENSION, readPolicySources } from './sources.js';

/** The part of the logger port the watcher uses. */
export type PolicyLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

/** What one reload did. */
export type ReloadOutcome =
  | { status: 'loaded'; loaded: LoadedPolicies }
  | { status: 'unchanged' }
  | { status: 'refused'; error: PolicyError };

/** How the watcher logs and paces reloads. */
export interface PolicyWatcherOptions {
  logger?: PolicyLogger;
  /** Quiet time after the last change before reloading: editors write a file in several steps. Default 200 ms. */
  debounceMs?: number;
  /** Called after each reload triggered by a change (for tests and metrics). */
  onReload?: (outcome: ReloadOutcome) => void;
}

const silent: PolicyLogger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * Keeps an engine's policies in step with a file or directory, without a restart. The first load happens in
 * {@link PolicyWatcher.start} and throws on a bad set, so a server never starts on policies it cannot use; later
 * changes are reloaded after a quiet period, and a set that fails is refused and logged while the previous one
 * stays in force.
 *
 * The watch is on the directory, not the file: editors and config tools replace a file by renaming a new one over
 * it, which a watch on the old file would never see.
 */
export class PolicyWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly logger: PolicyLogger;

  private constructor(
    private readonly engine: PolicyEngine,
    private readonly path: string,
    private readonly isDirectory: boolean,
    private readonly options: PolicyWatcherOptions,
  ) {
    this.logger = options.logger ?? silent;
  }

  /** Loads `path` into `engine` (throwing if it cannot) and starts watching it. */
  static async start(engine: PolicyEngine, path: string, options: PolicyWatcherOptions = {}): Promise<PolicyWatcher> {
    const isDirectory = (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
    const self = new PolicyWatcher(engine, path, isDirectory, options);
    const loaded = engine.load(await readPolicySources(path));
    self.logLoaded(loaded, 'policies loaded');
    self.watch();
    return self;
  }

  /** Reads the sources again and loads them if they changed; never throws. Reloads run one at a time. */
  reload(): Promise<ReloadOutcome> {
    const next = this.queue.then(() => this.reloadNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Stops watching. */
  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private watch(): void {
    const dir = this.isDirectory ? this.path : dirname(this.path);
    const file = basename(this.path);
    // Not persistent: a watcher alone should never keep a process running.
    this.watcher = watch(dir, { persistent: false }, (_event, name) => {
      const relevant = name === null || (this.isDirectory ? name.endsWith(POLICY_FILE_EXTENSION) : name === file);
      if (!relevant) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        void this.reload().then((outcome) => this.options.onReload?.(outcome));
      }, this.options.debounceMs ?? 200);
    });
    this.watcher.on('error', (error) => this.logger.error({ err: error, path: this.path }, 'cannot watch the policy path; reloads stop'));
  }

  private async reloadNow(): Promise<ReloadOutcome> {
    try {
      const sources = await readPolicySources(this.path);
      if (digestOf(sources) === this.engine.loaded?.digest) return { status: 'unchanged' };
      const loaded = this.engine.load(sources);
      this.logLoaded(loaded, 'policies reloaded');
      return { status: 'loaded', loaded };
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      const problems = error instanceof PolicyLoadError ? error.problems : [{ message: error.message }];
      this.logger.error(
        { code: error.code, path: this.path, problems, generation: this.engine.loaded?.generation },
        'policy change refused; the previous policies stay in force',
      );
      return { status: 'refused', error };
    }
  }

  private logLoaded(loaded: LoadedPolicies, message: string): void {
    this.logger.info({ path: this.path, generation: loaded.generation, policies: loaded.policies.length, digest: loaded.digest }, message);
    for (const warning of loaded.warnings) this.logger.warn({ path: this.path, warning }, 'policy warning');
  }
}

/** Loads and watches a policy file or directory: see {@link PolicyWatcher}. */
export function watchPolicies(engine: PolicyEngine, path: string, options: PolicyWatcherOptions = {}): Promise<PolicyWatcher> {
  return PolicyWatcher.start(engine, path, options);
}

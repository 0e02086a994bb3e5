import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { pgTypes } from './postgres.js';

/** The channels Tether announces on; each is a wake-up only, what changed is read back from the tables. */
export const CHANNELS = { revocations: 'tether_revocations', devices: 'tether_devices' } as const;
export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

/** How long to wait before connecting the listening client again after it lost its connection. */
const RECONNECT_MS = 1_000;

/** One channel as the domain's notifier ports see it (RevocationNotifier, DeviceChangeNotifier). */
export interface NotifierChannel {
  announce(): Promise<void>;
  onAnnounce(listener: () => void): () => void;
}

/**
 * LISTEN/NOTIFY between the instances sharing one PostgreSQL database. One dedicated connection listens (a pooled
 * one cannot: LISTEN belongs to a session); announcements go out through the pool. An announcement carries only
 * the sender's instance id, so an instance ignores its own. When the listening connection drops, every listener
 * is called once it is back (it may have missed announcements in between) — they read the tables again.
 *
 * @see https://www.postgresql.org/docs/current/sql-notify.html
 */
export class PostgresNotifier {
  readonly instanceId = randomUUID();
  private readonly listeners = new Map<Channel, Set<() => void>>();
  private client: pg.Client | undefined;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly pool: pg.Pool,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  /** Connects the listening session; resolves once LISTEN is in place on every channel. */
  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, types: pgTypes });
    client.on('notification', (message) => {
      if (message.payload === this.instanceId) return;
      this.fire(message.channel as Channel);
    });
    client.on('error', (error) => {
      this.onError(error);
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    await client.connect();
    for (const channel of Object.values(CHANNELS)) await client.query(`listen ${channel}`);
    this.client = client;
  }

  channel(name: Channel): NotifierChannel {
    return {
      announce: async () => {
        await this.pool.query('select pg_notify($1, $2)', [name, this.instanceId]);
      },
      onAnnounce: (listener) => {
        let set = this.listeners.get(name);
        if (!set) this.listeners.set(name, (set = new Set()));
        set.add(listener);
        return () => set.delete(listener);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private fire(channel: Channel): void {
    for (const listener of this.listeners.get(channel) ?? []) listener();
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    const retry = () => {
      if (this.closed) return;
      this.start().then(
        () => {
          for (const channel of Object.values(CHANNELS)) this.fire(channel);
        },
        (error: unknown) => {
          this.onError(error);
          this.reconnectTimer = setTimeout(retry, RECONNECT_MS);
          this.reconnectTimer.unref();
        },
      );
    };
    this.reconnectTimer = setTimeout(retry, RECONNECT_MS);
    this.reconnectTimer.unref();
  }
}

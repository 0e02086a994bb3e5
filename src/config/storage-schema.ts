import { z } from 'zod';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Where the data lives: the embedded SQLite file under data_dir, or a PostgreSQL database shared by instances. */
export const storageSchema = z
  .object({
    engine: z.enum(['sqlite', 'postgres']).default('sqlite').describe('sqlite: embedded, one instance; postgres: shared'),
    synchronous: z
      .enum(['normal', 'full'])
      .default('normal')
      .describe('SQLite only. normal: durable across a process crash; full: also across power loss, slower'),
    // The PostgreSQL URL carries a password, so like every other secret it is never written in the file itself:
    // the file names the variable or the file that holds it.
    url_env: z.string().regex(ENV_NAME, 'an environment variable name').optional().describe('variable holding the URL'),
    url_file: z.string().min(1).optional().describe('file holding the URL (e.g. a mounted secret)'),
    url: z
      .string()
      .refine(isPasswordlessPostgresUrl, 'a postgres:// URL without a password (put one with a password in url_env or url_file)')
      .optional()
      .describe('a URL without a password, for peer or certificate authentication'),
    pool_size: z.number().int().min(2).max(200).default(10).describe('PostgreSQL connections this instance keeps at most'),
  })
  .strict()
  .superRefine((storage, ctx) => {
    const sources = [storage.url, storage.url_env, storage.url_file].filter((v) => v !== undefined).length;
    if (storage.engine === 'postgres' && sources !== 1) {
      ctx.addIssue({ code: 'custom', path: ['url_env'], message: 'engine postgres needs exactly one of url_env, url_file or url' });
    }
    if (storage.engine === 'sqlite' && sources > 0) {
      ctx.addIssue({ code: 'custom', path: ['engine'], message: 'a database URL is given but engine is sqlite (set engine: postgres)' });
    }
  });

function isPasswordlessPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.password === '' && !url.searchParams.has('password');
  } catch {
    return false;
  }
}

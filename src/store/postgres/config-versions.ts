/** Applied configurations in the shared store: every process polls `latestVersion` and runs the newest. */
import type pg from 'pg';
import type { ConfigVersion, ConfigVersions } from '../types.js';

export class PostgresConfigVersions implements ConfigVersions {
  constructor(private readonly pool: pg.Pool) {}

  async append(after: number, entry: Omit<ConfigVersion, 'version'>): Promise<number | undefined> {
    // Versions have no gaps: `after + 1` is free exactly when `after` is the newest, so the primary key is the check.
    const r = await this.pool.query(
      `INSERT INTO config_versions (version, at, author, config, diff)
       SELECT $1, $2, $3, $4, $5 WHERE (SELECT COALESCE(MAX(version), 0) FROM config_versions) = $6
       ON CONFLICT (version) DO NOTHING`,
      [after + 1, entry.at, entry.author, entry.config, entry.diff, after],
    );
    return r.rowCount ? after + 1 : undefined;
  }

  async latestVersion(): Promise<number> {
    return Number((await this.pool.query('SELECT COALESCE(MAX(version), 0) AS v FROM config_versions')).rows[0].v);
  }

  async get(version: number): Promise<ConfigVersion | undefined> {
    return (await this.pool.query('SELECT version, at, author, config, diff FROM config_versions WHERE version = $1', [version])).rows[0];
  }

  async list(limit: number): Promise<Array<Omit<ConfigVersion, 'config'>>> {
    return (await this.pool.query('SELECT version, at, author, diff FROM config_versions ORDER BY version DESC LIMIT $1', [limit])).rows;
  }
}

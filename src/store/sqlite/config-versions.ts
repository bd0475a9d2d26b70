/** Applied configurations in the embedded store (see ConfigVersions). */
import type Database from 'better-sqlite3';
import type { ConfigVersion, ConfigVersions } from '../types.js';

export class SqliteConfigVersions implements ConfigVersions {
  constructor(private readonly db: Database.Database) {}

  async append(after: number, entry: Omit<ConfigVersion, 'version'>): Promise<number | undefined> {
    // The primary key refuses a second `after + 1`; the max check refuses appending behind a newer version.
    const r = this.db
      .prepare(
        `INSERT INTO config_versions (version, at, author, config, diff)
         SELECT ?, ?, ?, ?, ? WHERE (SELECT COALESCE(MAX(version), 0) FROM config_versions) = ?
         ON CONFLICT (version) DO NOTHING`,
      )
      .run(after + 1, entry.at, entry.author, entry.config, entry.diff, after);
    return r.changes ? after + 1 : undefined;
  }

  async latestVersion(): Promise<number> {
    return (this.db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM config_versions').get() as { v: number }).v;
  }

  async get(version: number): Promise<ConfigVersion | undefined> {
    return this.db.prepare('SELECT version, at, author, config, diff FROM config_versions WHERE version = ?').get(version) as ConfigVersion | undefined;
  }

  async list(limit: number): Promise<Array<Omit<ConfigVersion, 'config'>>> {
    return this.db.prepare('SELECT version, at, author, diff FROM config_versions ORDER BY version DESC LIMIT ?').all(limit) as Array<
      Omit<ConfigVersion, 'config'>
    >;
  }
}

/** What changing the running configuration looks like to its callers (the admin API, SIGHUP, the library). */
import type { ConfigChange } from './diff.js';
import type { SharedDocument } from './index.js';

export interface ApplyResult {
  /** The version running after the call. */
  version: number;
  /** False when nothing changed, or on a dry run. */
  applied: boolean;
  diff: ConfigChange[];
  /** Settings of the file that are read at start only (port, store, …) and changed: they wait for a restart. */
  restartNeeded?: string[];
}

export interface ConfigEditor {
  /**
   * `edit` gets the running document and returns the new one; it is validated (ConfigFileError naming the path),
   * stored as the next version and run. `basedOn`: refuse (ConfigConflictError) unless that version is the newest.
   */
  change(edit: (current: SharedDocument) => SharedDocument, author: string, opts?: { basedOn?: number; dryRun?: boolean }): Promise<ApplyResult>;
  /** An earlier version applied again, as the next version. */
  rollback(version: number, author: string): Promise<ApplyResult>;
}

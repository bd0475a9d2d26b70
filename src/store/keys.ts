/** The store's key-value namespaces, each spelled here once (Store.kvGet / kvSet). */
export const KV = {
  /** A source's generated write key. */
  writeKey: (source: string) => `writeKey:${source}`,
  /** The generated admin token. */
  adminToken: 'adminToken',
  /** The Klaviyo list id of an audience, per destination. */
  audienceList: (destination: string, audienceKey: string) => `list:${destination}:audience:${audienceKey}`,
  /** The subscriptions a warehouse model had at one version: replays re-plan with the mapping the change was made with. */
  retlModel: (name: string, version: string) => `retl-model:${name}:${version}`,
  /** Why a destination's delivery is paused (Klaviyo refused its key), as JSON; empty when it is not. */
  paused: (destination: string) => `paused:${destination}`,
  /** Updates delivered around an identity conflict: {count, last: {messageId, note, at}} (docs/identity.md). */
  identityConflicts: (destination: string) => `identity-conflicts:${destination}`,
  /** The id of a custom-objects data source, by title, per Klaviyo account (src/sync/account.ts); empty when forgotten. */
  dataSource: (account: string, title: string) => `data-source:${account}:${title}`,
  /** Hash of the config file's sources and destinations last stored as a version: a changed file is applied at start. */
  configFile: 'config:file',
  /** The version of a warehouse model whose column plan was last shown (a new one is printed again). */
  retlColumnsShown: (name: string) => `retl-columns:${name}`,
};

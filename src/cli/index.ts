#!/usr/bin/env node
/** The `klaviyo-destination` command. Each subcommand is a thin shell over a library function. */
import { existsSync, readFileSync } from 'node:fs';
import { Command, Option } from 'commander';

const program = new Command('klaviyo-destination')
  .description('Deliver Segment / RudderStack-spec events to Klaviyo')
  .version(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);

const CONFIG_HELP =
  'JSON or YAML config: ours, one destination ({preset, settings, subscriptions, extends}), a preset’s settings, ' +
  'a RudderStack destination export or Segment subscriptions (trigger, actionSlug, settings) — docs/configuration.md';

function fail(err: unknown): never {
  process.stderr.write(`klaviyo-destination: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

program
  .command('preview')
  .description('read Segment messages as JSON Lines on stdin; print what would be sent to Klaviyo (sends nothing)')
  .option('--preset <name>', 'preset of subscriptions and settings (wins over the preset in --config; default segment-actions)')
  .option('--config <file>', `${CONFIG_HELP}; its first destination is previewed`)
  .option('--batch', 'treat the input as one delivery run and print the coalesced bulk requests')
  .action(async (o: { preset?: string; config?: string; batch?: boolean }) => {
    try {
      const { runPreview, previewDestination } = await import('../preview/index.js');
      const { subscriptionsNote } = await import('../destination/index.js');
      // `preview … | head`: the reader left; that is not an error.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? process.exit(0) : fail(err)));
      const destination = o.config ? previewDestination(o.config, o.preset) : { preset: o.preset ?? 'segment-actions' };
      const note = subscriptionsNote(destination);
      if (note) process.stderr.write(`subscriptions: ${note}\n`);
      await runPreview({ destination, batch: o.batch, input: process.stdin, output: process.stdout });
    } catch (err) {
      fail(err);
    }
  });

program
  .command('emulator')
  .description('run the stateful Klaviyo emulator (GET /__emulator/state, POST /__emulator/reset, POST /__emulator/faults)')
  .addOption(new Option('--port <n>', 'port').env('PORT').default('4010'))
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--api-key <key>', 'accept only this Klaviyo API key (default: any)')
  .option('--no-rate-limits', 'do not enforce Klaviyo rate-limit tiers')
  .option('--rate-limit-multiplier <x>', 'multiply every tier (benchmarks)')
  .option(
    '--job-ms <ms|min-max>',
    "how long each bulk job takes to process, fixed (15000) or drawn from a range (2000-15000); Klaviyo's take seconds to minutes",
    '10',
  )
  .option('--state-file <path>', 'keep the state in this file across restarts (POST /__emulator/reset empties it); default: in memory')
  .action(async (o: { port: string; host: string; apiKey?: string; rateLimits: boolean; rateLimitMultiplier?: string; jobMs: string; stateFile?: string }) => {
    try {
      const { startEmulator, parseJobTime } = await import('../emulator/index.js');
      const rateLimits = o.rateLimits ? (o.rateLimitMultiplier ? Number(o.rateLimitMultiplier) : true) : false;
      const emu = await startEmulator({
        port: Number(o.port),
        host: o.host,
        apiKey: o.apiKey,
        rateLimits,
        jobDelayMs: parseJobTime(o.jobMs),
        stateFile: o.stateFile,
        onSaveError: (err) => process.stderr.write(`could not save the emulator state to ${o.stateFile}: ${String(err)}\n`),
      });
      process.stdout.write(`Klaviyo emulator listening on ${emu.url} (state: ${emu.url}/__emulator/state)\n`);
      const stop = () => emu.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('start')
  .description('run the service: Segment-compatible ingest API, durable queue, delivery to Klaviyo')
  .addOption(new Option('--port <n>', 'HTTP port (default 8080)').env('PORT'))
  .addOption(new Option('--host <addr>', 'interface to listen on (default 127.0.0.1; 0.0.0.0 for every interface)').env('HOST'))
  .addOption(new Option('--data-dir <dir>', 'where the embedded queue lives (default ./data)').env('DATA_DIR'))
  .addOption(new Option('--store <url>', 'postgres://… to share one queue between processes (default: embedded SQLite in the data dir)').env('STORE_URL'))
  .addOption(
    new Option('--role <role>', 'what this process does: all, ingest (accept events) or worker (deliver them)')
      .choices(['all', 'ingest', 'worker'])
      .env('ROLE'),
  )
  .addOption(new Option('--write-key <key>', 'write key clients send (generated when absent)').env('WRITE_KEY'))
  .addOption(new Option('--api-key <key>', 'Klaviyo private API key (absent: the built-in emulator)').env('KLAVIYO_API_KEY'))
  .addOption(new Option('--klaviyo-url <url>', 'Klaviyo base URL').env('KLAVIYO_URL'))
  .addOption(new Option('--config <file>', CONFIG_HELP).env('CONFIG_FILE'))
  .addOption(
    new Option('--admin-token <token>', 'token for /admin/* and the dashboard at /ui/ (generated and kept in the store when absent)').env('ADMIN_TOKEN'),
  )
  .addOption(new Option('--api-key-file <path>', 'read the Klaviyo API key from this file (not visible in ps, unlike --api-key)').env('KLAVIYO_API_KEY_FILE'))
  .addOption(new Option('--store-file <path>', 'read the postgres:// store URL (with its password) from this file').env('STORE_URL_FILE'))
  .addOption(new Option('--admin-token-file <path>', 'read the admin token from this file').env('ADMIN_TOKEN_FILE'))
  .addOption(new Option('--max-connections <n>', 'open HTTP connections per process (default 1024; more are refused)').env('MAX_CONNECTIONS'))
  .addOption(new Option('--cors-origins <origins>', 'comma-separated origins whose pages may send events from the browser (default: any)').env('CORS_ORIGINS'))
  .addOption(
    new Option('--public-url <url>', 'the address SDKs reach this service at, for the settings endpoints (default: from each request)').env('PUBLIC_URL'),
  )
  .addOption(
    new Option('--stop-timeout <seconds>', 'on SIGTERM / Ctrl-C, how long to wait for in-flight deliveries before putting them back in the queue')
      .env('STOP_TIMEOUT')
      .default('25'),
  )
  .action(
    async (o: {
      port?: string;
      host?: string;
      dataDir?: string;
      store?: string;
      role?: string;
      writeKey?: string;
      apiKey?: string;
      klaviyoUrl?: string;
      config?: string;
      adminToken?: string;
      corsOrigins?: string;
      publicUrl?: string;
      maxConnections?: string;
      apiKeyFile?: string;
      storeFile?: string;
      adminTokenFile?: string;
      stopTimeout: string;
    }) => {
      const { readConfigFile, readConfigDocument } = await import('../config/index.js');
      const { startService } = await import('../service/index.js');
      const { createLogger } = await import('../service/logger.js');
      const logger = createLogger();
      try {
        const { secretFrom } = await import('../config/secret-file.js');
        const overrides = {
          port: o.port !== undefined ? Number(o.port) : undefined,
          host: o.host,
          dataDir: o.dataDir,
          store: secretFrom(o.store, o.storeFile, { value: '--store / STORE_URL', file: '--store-file / STORE_URL_FILE' }),
          role: o.role,
          writeKey: o.writeKey,
          apiKey: secretFrom(o.apiKey, o.apiKeyFile, { value: '--api-key / KLAVIYO_API_KEY', file: '--api-key-file / KLAVIYO_API_KEY_FILE' }),
          klaviyoUrl: o.klaviyoUrl,
          adminToken: secretFrom(o.adminToken, o.adminTokenFile, { value: '--admin-token / ADMIN_TOKEN', file: '--admin-token-file / ADMIN_TOKEN_FILE' }),
          maxConnections: o.maxConnections !== undefined ? Number(o.maxConnections) : undefined,
          corsOrigins: o.corsOrigins,
          publicUrl: o.publicUrl,
        };
        // Read once (a pipe reads once; an edit between two reads would split what runs from what is stored), validated
        // by the one config reader (its errors name the file's own shape); the document is what versions hold.
        const { config, document } = readConfigFile(o.config, overrides);
        const stopTimeoutS = Number(o.stopTimeout);
        if (!(stopTimeoutS >= 0)) throw new Error(`--stop-timeout ${o.stopTimeout}: give a number of seconds (0 or more)`);
        const service = await startService(config, logger, { source: { document, overrides } });
        // SIGHUP: read the config file again and apply its sources and destinations, without a restart.
        process.on('SIGHUP', () => {
          if (!o.config) return logger.warn({}, 'SIGHUP: there is no config file to read again (start --config <file>)');
          let raw: unknown;
          try {
            raw = readConfigDocument(o.config);
          } catch (err) {
            return logger.error({ file: o.config, err: (err as Error).message }, 'SIGHUP: the config file was not applied; the running configuration stays');
          }
          service.config.reloadFile(raw).then(
            (r) => {
              if (r.restartNeeded) logger.warn({ settings: r.restartNeeded }, 'SIGHUP: these settings are read at start only: restart to apply them');
              logger.info(
                { file: o.config, version: r.version, applied: r.applied, changes: r.diff.length },
                `SIGHUP: configuration version ${r.version} is running`,
              );
            },
            (err) => logger.error({ file: o.config, err: (err as Error).message }, 'SIGHUP: the config file was not applied; the running configuration stays'),
          );
        });
        if (process.stdout.isTTY) {
          const { startBanner, commandName } = await import('./banner.js');
          const command = commandName(process.argv[1], process.cwd());
          process.stdout.write(
            `\n${startBanner({ url: service.url, role: config.role, writeKeys: service.writeKeys, adminToken: service.adminToken, emulatorUrl: service.emulatorUrl, stopTimeoutS, command })}\n`,
          );
        }
        const { stopTalking } = await import('./stop.js');
        stopTalking(service, logger, stopTimeoutS);
      } catch (err) {
        fail(err);
      }
    },
  );

const dlq = program.command('dlq').description('dead letters: list, replay, discard');
const dataDirOption = () => new Option('--data-dir <dir>', 'where the embedded queue lives').env('DATA_DIR').default('./data');
const storeOption = () => new Option('--store <url>', 'postgres://… when the service runs on a shared Postgres store').env('STORE_URL');
const storeFileOption = () => new Option('--store-file <path>', 'read the postgres:// URL from this file').env('STORE_URL_FILE');

dlq
  .command('list')
  .addOption(dataDirOption())
  .addOption(storeOption())
  .addOption(storeFileOption())
  .option('--destination <name>')
  .option('--reason <text>', 'only those whose reason contains this text (any case)')
  .option('--limit <n>', 'how many, newest first', '100')
  .action(async (o: { dataDir: string; store?: string; destination?: string; reason?: string; limit: string }) => {
    await withStore(o, async (store) => {
      const rows = await store.listDeadLetters({ destination: o.destination, reason: o.reason, limit: Number(o.limit) });
      for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
      process.stderr.write(`${rows.length} dead letter(s)\n`);
    });
  });

for (const verb of ['replay', 'discard'] as const) {
  dlq
    .command(verb)
    .description(verb === 'replay' ? 'put dead letters back in the queue (e.g. after fixing a mapping)' : 'delete dead letters')
    .addOption(dataDirOption())
    .addOption(storeOption())
    .addOption(storeFileOption())
    .option('--destination <name>')
    .option('--id <seq...>', 'dead letter ids (seq)')
    .option('--all', 'every dead letter (of --destination and --reason, if given)')
    .option('--reason <text>', 'with --all: only those whose reason contains this text (any case)')
    .action(async (o: { dataDir: string; store?: string; destination?: string; reason?: string; id?: string[]; all?: boolean }) => {
      if (!o.id && !o.all) fail(`say which dead letters to ${verb}: --id <seq...> or --all`);
      await withStore(o, async (store) => {
        const filter = { seqs: o.id?.map(Number), destination: o.destination, reason: o.reason, all: o.all };
        if (verb === 'discard') return void process.stdout.write(`discarded ${await store.discard(filter)} dead letter(s)\n`);
        const { replayed, dropped } = await store.replay(filter);
        const extra = dropped ? `; dropped ${dropped} whose messageId was queued already or replayed from a newer copy` : '';
        process.stdout.write(`replayed ${replayed} dead letter(s)${extra}\n`);
      });
    });
}

program
  .command('config')
  .description('the configuration versions kept in the store (live reload, rollback)')
  .command('export')
  .description('print the running configuration (its newest version in the store) as a config file')
  .addOption(dataDirOption())
  .addOption(storeOption())
  .addOption(storeFileOption())
  .option('--config <file>', 'the process settings (port, store, …) to print beside it: the file start is given')
  .option('--at <version>', 'an earlier version instead of the newest')
  .option('--yaml', 'print YAML instead of JSON')
  .action(async (o: { dataDir: string; store?: string; config?: string; at?: string; yaml?: boolean }) => {
    await withStore(o, async (store) => {
      const { readConfigDocument, SHARED_KEYS } = await import('../config/index.js');
      const n = o.at ? Number(o.at) : await store.configVersions.latestVersion();
      const v = n ? await store.configVersions.get(n) : undefined;
      if (!v) throw new Error(o.at ? `there is no configuration version ${o.at}` : 'no configuration is stored yet: start the service once');
      const base = o.config ? (readConfigDocument(o.config) as Record<string, unknown>) : {};
      const rest = Object.fromEntries(Object.entries(base ?? {}).filter(([k]) => !(SHARED_KEYS as readonly string[]).includes(k)));
      const doc = { ...rest, ...JSON.parse(v.config) };
      const { stringify } = await import('yaml');
      process.stdout.write(o.yaml ? stringify(doc) : `${JSON.stringify(doc, null, 2)}\n`);
      process.stderr.write(`configuration version ${v.version}, applied ${new Date(v.at).toISOString()} by ${v.author}\n`);
    });
  });

program
  .command('status')
  .description('queue depth, delivery rates and dead letters per destination')
  .addOption(dataDirOption())
  .addOption(storeOption())
  .addOption(storeFileOption())
  .option('--json', 'print JSON instead of a table')
  .action(async (o: { dataDir: string; store?: string; json?: boolean }) => {
    await withStore(o, async (store) => {
      const { statusReport, formatStatus } = await import('../store/status.js');
      const report = await statusReport(store);
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatStatus(report));
    });
  });

async function withStore(o: { dataDir: string; store?: string; storeFile?: string }, fn: (store: import('../store/types.js').Store) => Promise<void>) {
  try {
    const { secretFrom } = await import('../config/secret-file.js');
    o = { ...o, store: secretFrom(o.store, o.storeFile, { value: '--store / STORE_URL', file: '--store-file / STORE_URL_FILE' }) };
    // Looking at a queue that is not there would make an empty one and report nothing: say where to look instead.
    const { queueFile } = await import('../store/sqlite/index.js');
    if (!o.store && !existsSync(queueFile(o.dataDir))) throw new Error(`no queue at ${queueFile(o.dataDir)}: pass the --data-dir (or --store) that start uses`);
    const { openStore } = await import('../store/open.js');
    const store = await openStore(o.store, o.dataDir);
    await store.migrate();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  } catch (err) {
    fail(err);
  }
}

program
  .command('credentials')
  .description('show the write keys start uses, and make a new admin token (a lost start-up banner costs nothing)')
  .addOption(new Option('--config <file>', 'JSON or YAML config file start uses').env('CONFIG_FILE'))
  .addOption(new Option('--data-dir <dir>', 'where the embedded queue lives (default ./data)').env('DATA_DIR'))
  .addOption(storeOption())
  .addOption(storeFileOption())
  .option('--write-key [source]', "print only this source's write key (default: the first source), for scripts")
  .option('--rotate-admin-token', 'generate a new admin token, keep it in the store and print it; restart start to use it')
  .option('--json', 'print JSON')
  .action(
    async (o: {
      config?: string;
      dataDir?: string;
      store?: string;
      storeFile?: string;
      writeKey?: string | true;
      rotateAdminToken?: boolean;
      json?: boolean;
    }) => {
      let config: import('../config/index.js').Config;
      try {
        const { loadConfigFile } = await import('../config/index.js');
        config = loadConfigFile(o.config, { dataDir: o.dataDir });
      } catch (err) {
        fail(err);
      }
      const where = o.store || o.storeFile ? 'the store' : config.dataDir;
      await withStore({ dataDir: config.dataDir, store: o.store ?? config.store, storeFile: o.storeFile }, async (store) => {
        const { readCredentials, formatCredentials, rotateAdminToken } = await import('./credentials.js');
        if (o.rotateAdminToken) {
          if (config.adminToken) throw new Error('the admin token is configured (--admin-token, ADMIN_TOKEN or the config): change it there');
          const token = await rotateAdminToken(store);
          process.stdout.write(o.json ? `${JSON.stringify({ adminToken: token })}\n` : `new admin token: ${token}\n`);
          process.stderr.write('kept in the store; a running start keeps the old one until it is restarted\n');
          return;
        }
        const c = await readCredentials(config, store);
        if (o.writeKey !== undefined) {
          const name = o.writeKey === true ? c.writeKeys[0].source : o.writeKey;
          const k = c.writeKeys.find((x) => x.source === name);
          if (!k) throw new Error(`no source named "${name}" (known: ${c.writeKeys.map((x) => x.source).join(', ')})`);
          if (!k.writeKey) throw new Error(`source "${name}" has no write key yet: run start once, it generates one`);
          process.stdout.write(`${k.writeKey}\n`);
          return;
        }
        process.stdout.write(o.json ? `${JSON.stringify(c, null, 2)}\n` : formatCredentials(c, where));
      });
    },
  );

program
  .command('delete-user')
  .description(
    "delete a user: Klaviyo's data-privacy deletion of their profile (Segment's onDelete), and this service's own copies " +
      '(queued and dead messages, sync snapshot rows); --suppress also drops their later messages at ingest',
  )
  .option('--user-id <id>', 'the userId (Klaviyo external_id)')
  .option('--email <email>')
  .option('--phone <phone>', 'E.164, or national with the destination setting defaultCountry')
  .option('--suppress', "also drop this person's later messages at ingest (Delete and Suppress); lift with `suppression lift`")
  .option('--destination <name>', 'destination of the config (default: the first)')
  .addOption(new Option('--config <file>', 'JSON or YAML config file').env('CONFIG_FILE'))
  .addOption(new Option('--api-key <key>', 'Klaviyo private API key').env('KLAVIYO_API_KEY'))
  .addOption(new Option('--klaviyo-url <url>', 'Klaviyo base URL (an emulator needs no key)').env('KLAVIYO_URL'))
  .addOption(new Option('--data-dir <dir>', "where the embedded queue lives (default: the config's)").env('DATA_DIR'))
  .addOption(storeOption())
  .action(
    async (o: {
      userId?: string;
      email?: string;
      phone?: string;
      suppress?: boolean;
      destination?: string;
      config?: string;
      apiKey?: string;
      klaviyoUrl?: string;
      dataDir?: string;
      store?: string;
    }) => {
      const { loadConfigFile } = await import('../config/index.js');
      const { presetApiKey } = await import('../presets/index.js');
      const { compileDestination } = await import('../destination/index.js');
      const { KlaviyoClient } = await import('../klaviyo/client.js');
      const { deleteUser } = await import('../delivery/user-deletion.js');
      const { forgetPerson } = await import('../privacy/forget.js');
      const { Suppressions } = await import('../privacy/suppressions.js');
      const { openStore } = await import('../store/open.js');
      const { queueFile } = await import('../store/sqlite/index.js');
      const { EMULATOR_API_KEY } = await import('../service/index.js');
      try {
        if (!o.userId && !o.email && !o.phone) throw new Error('say whom to delete: --user-id, --email or --phone');
        const config = loadConfigFile(o.config, { apiKey: o.apiKey, klaviyoUrl: o.klaviyoUrl, dataDir: o.dataDir, store: o.store });
        const d = o.destination ? config.destinations.find((x) => x.name === o.destination) : config.destinations[0];
        if (!d) throw new Error(`no destination named ${o.destination} (known: ${config.destinations.map((x) => x.name).join(', ')})`);
        // Without a key or a Klaviyo URL, `start` delivers to a throwaway emulator: a deletion sent nowhere would delete
        // nothing real. An emulator named by --klaviyo-url takes any key.
        const apiKey = d.apiKey ?? presetApiKey(d.preset, d.settings) ?? (d.klaviyoUrl ? EMULATOR_API_KEY : undefined);
        if (!apiKey)
          throw new Error(
            'a deletion needs the Klaviyo private API key: --api-key or KLAVIYO_API_KEY (or the destination apiKey in --config); for an emulator, --klaviyo-url',
          );
        const client = new KlaviyoClient({ apiKey, ...(d.klaviyoUrl ? { baseUrl: d.klaviyoUrl } : {}) });
        const hasQueue = Boolean(config.store) || existsSync(queueFile(config.dataDir));
        const store = hasQueue ? await openStore(config.store, config.dataDir) : undefined;
        try {
          await store?.migrate();
          if (!hasQueue)
            process.stderr.write(`note: no queue at ${queueFile(config.dataDir)}: nothing of this service's to purge (pass --data-dir or --store)\n`);
          const dest = compileDestination(d);
          const request = { userId: o.userId, email: o.email, phone: o.phone };
          const r = await forgetPerson(
            { ...request, suppress: o.suppress },
            {
              store: store?.privacy,
              suppressions: store && new Suppressions(store.privacy),
              deleteInKlaviyo: () => deleteUser(request, dest.settings, client),
            },
          );
          for (const w of r.warnings) process.stderr.write(`warning: ${w.field}: ${w.message}\n`);
          process.stdout.write(`${JSON.stringify({ destination: d.name, ...r })}\n`);
        } finally {
          await store?.close();
          await client.close();
        }
      } catch (err) {
        fail(err);
      }
    },
  );

program
  .command('suppression')
  .description("lift a suppression made by `delete-user --suppress`: the person's messages are accepted again")
  .argument('<verb>', 'lift')
  .option('--user-id <id>')
  .option('--email <email>')
  .option('--phone <phone>')
  .addOption(dataDirOption())
  .addOption(storeOption())
  .addOption(storeFileOption())
  .action(async (verb: string, o: { userId?: string; email?: string; phone?: string; dataDir: string; store?: string }) => {
    if (verb !== 'lift') fail(`unknown verb "${verb}": suppression lift --user-id|--email|--phone`);
    if (!o.userId && !o.email && !o.phone) fail('say whose suppression to lift: --user-id, --email or --phone');
    const { Suppressions } = await import('../privacy/suppressions.js');
    const { personOf } = await import('../privacy/person.js');
    await withStore(o, async (store) => {
      const lifted = await new Suppressions(store.privacy).lift(personOf(o));
      process.stdout.write(`${JSON.stringify({ lifted })}\n`);
    });
  });

program
  .command('sync')
  .description('send warehouse rows to Klaviyo: only rows added, changed or deleted since the last run')
  .addOption(new Option('--config <file>', 'config file declaring models and audiences').env('CONFIG_FILE'))
  .option('--model <name...>', 'models or audiences of the config to sync (default: all)')
  .option(
    '--source <source>',
    'one model given here: postgres://… or duckdb:<file> (with --query), a .csv, .jsonl or .parquet file, or a glob of .parquet files',
  )
  .option('--query <sql>', 'with a postgres:// or duckdb: source: the query whose rows to sync')
  .option('--primary-key <column>', 'the column that identifies a row between runs')
  .option('--name <name>', 'the model’s name; it keys the snapshot (default: the file name; required for postgres://)')
  .option('--action <partnerAction>', 'action for added and updated rows', 'upsertProfile')
  .option('--map <column=field...>', 'send a column to this field (repeatable): --map mobile=phone_number --map ltv=properties.lifetime_value')
  .option('--exclude <column...>', 'columns not to send')
  .option('--properties <column...>', 'only these columns become custom properties (the others named like no field are not sent)')
  .option('--no-properties', 'no column becomes a custom property')
  .option('--event-name <name>', 'with --action trackEvent: the event (Klaviyo metric) name')
  .option('--time-column <column>', 'with --action trackEvent: the column holding when the event happened')
  .option('--backfill', 'event actions: send every event as a Klaviyo backfill (recorded, triggers no flow), however recent')
  .option('--no-backfill', 'event actions: never send events as backfills (default: those older than backfillAfterHours when sent)')
  .option('--data-source <title>', 'with --action upsertDataSourceRecord: the custom-objects data source the rows go to (created when missing)')
  .option('--audience <name>', 'sync the source’s rows as the members of the Klaviyo list of this name')
  .addOption(new Option('--identifier <field>', 'with --audience: what identifies a member').choices(['email', 'phone_number', 'external_id']).default('email'))
  .option('--column <column>', 'with --audience: the column holding the identifier (default: same name)')
  .option('--destination <name>', 'destination of the config to deliver to (default: the first)')
  .option('--dry-run', 'print what would change (JSON Lines) and send nothing')
  .option('--allow-mass-delete', 'let a run delete more than half of the rows last synced (or all, when the source has none)')
  .option('--every <schedule>', 'keep running: sync on this schedule (30s, 15m, 1h, 1d, or cron)')
  .option('--wait <seconds>', 'how long to wait for delivery before giving up', '1800')
  .addOption(new Option('--data-dir <dir>', 'where the embedded queue lives').env('DATA_DIR'))
  .addOption(new Option('--store <url>', 'postgres://… shared store').env('STORE_URL'))
  .addOption(new Option('--api-key <key>', 'Klaviyo private API key (absent: the built-in emulator)').env('KLAVIYO_API_KEY'))
  .addOption(new Option('--klaviyo-url <url>', 'Klaviyo base URL').env('KLAVIYO_URL'))
  .action(async (o) => {
    const { syncCommand } = await import('./sync.js');
    const { createLogger } = await import('../service/logger.js');
    try {
      process.exitCode = await syncCommand(o, createLogger(process.env.LOG_LEVEL ?? 'warn'));
    } catch (err) {
      fail(err);
    }
  });

program.parseAsync(process.argv).catch(fail);

/**
 * A warehouse row → one record of a Klaviyo custom-objects data source (data-source.record). Meant for `sync`
 * (`--action upsertDataSourceRecord --data-source <title>`): added and changed rows are sent; Klaviyo turns records
 * into objects through the object type's source mapping, set up in its UI (docs/catalogs-and-objects.md).
 */
import type { Operation } from '../../klaviyo/operations.js';
import { PayloadError, type ActionDefinition } from '../types.js';

/** Klaviyo's limits: a data source title of 1–255 characters, a record of at most 512 KB. */
const MAX_TITLE = 255;
const MAX_RECORD_BYTES = 512 * 1024;

const upsertDataSourceRecord: ActionDefinition = {
  name: 'upsertDataSourceRecord',
  title: 'Upsert Data Source Record',
  description:
    "Send warehouse rows as records of a Klaviyo custom-objects data source (created when missing); the object type's source mapping makes them objects.",
  keepsPrimaryKey: true,
  fields: {
    data_source: {
      label: 'Data Source',
      description: 'The data source’s title (sync: --data-source; config: dataSource). Created when the account has none of that title.',
      type: 'string',
      required: true,
    },
    properties: {
      label: 'Record',
      description: 'The record: every column, the primary key included (map, exclude and properties choose them as for profiles).',
      type: 'object',
    },
  },
  plan(p, _settings, context) {
    const dataSource = String(p.data_source ?? '').trim();
    if (!dataSource || dataSource.length > MAX_TITLE)
      throw new PayloadError('data_source', `data_source must be a title of 1 to ${MAX_TITLE} characters, got ${JSON.stringify(p.data_source ?? null)}`);
    const record = p.properties && typeof p.properties === 'object' ? (p.properties as Record<string, unknown>) : {};
    if (!Object.keys(record).length) throw new PayloadError('properties', 'the record is empty: no column is sent');
    const bytes = Buffer.byteLength(JSON.stringify(record), 'utf8');
    if (bytes > MAX_RECORD_BYTES)
      throw new PayloadError('properties', `the record is ${bytes} bytes; Klaviyo takes at most ${MAX_RECORD_BYTES} (512 KB) a record`);
    const op: Operation = { kind: 'data-source.record', dataSource, key: context.messageId, record };
    return { operations: [op] };
  },
};
export default upsertDataSourceRecord;

/** The list an Engage-style audience event refers to: an explicit list id, else the audience's own key. */
import type { ListRef } from '../klaviyo/operations.js';
import { PayloadError } from './types.js';
import { path, firstOf, email, phone_number, country_code, external_id, list_id } from './fields.js';
import type { FieldDefinition } from './types.js';

export const audienceFields: Record<string, FieldDefinition> = {
  audience_id: {
    label: 'Audience ID',
    description: 'Engage audience id; its Klaviyo list is found by name or created on first use.',
    type: 'string',
    default: firstOf('$.context.personas.computation_id', '$.context.personas.external_audience_id'),
  },
  audience_key: {
    label: 'Audience Key',
    description: 'Engage audience key; the name of the created list.',
    type: 'string',
    default: path('$.context.personas.computation_key'),
  },
};

export function listRef(p: Record<string, any>): ListRef {
  if (typeof p.list_id === 'string') return { id: p.list_id };
  const key = p.audience_id ?? p.audience_key;
  if (typeof key === 'string') return { audienceKey: key, name: typeof p.audience_key === 'string' ? p.audience_key : key };
  throw new PayloadError('list_id', 'no list: map list_id, or send an Engage audience event with context.personas.computation_key');
}

/** Identifier and list fields shared by the add/remove list actions. */
export const listMemberFields: Record<string, FieldDefinition> = {
  email: email(firstOf('$.context.traits.email', '$.properties.email')),
  phone_number: phone_number(firstOf('$.context.traits.phone', '$.properties.phone')),
  country_code,
  external_id: external_id(),
  list_id,
  ...audienceFields,
};

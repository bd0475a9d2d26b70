/** Audience support as Segment's Klaviyo destination names it: an audience is a Klaviyo list. */
import type { KlaviyoTransport } from '../klaviyo/request.js';
import { createList, getList } from './list-resolver.js';

/** createAudience: a new Klaviyo list with this name; returns its id. */
export async function createAudience(transport: KlaviyoTransport, name: string): Promise<{ id: string; name: string }> {
  if (!name.trim()) throw new Error('an audience needs a name');
  const res = await transport.send(createList(name));
  return { id: res.body.data.id, name: res.body.data.attributes.name };
}

/** getAudience: the Klaviyo list with this id (PermanentError 404 when it does not exist). */
export async function getAudience(transport: KlaviyoTransport, id: string): Promise<{ id: string; name: string }> {
  const res = await transport.send(getList(id));
  return { id: res.body.data.id, name: res.body.data.attributes.name };
}

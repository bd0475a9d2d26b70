import type { EndpointName } from './endpoints.js';
import type { KlaviyoTransport } from './request.js';

/**
 * Every page of a paged GET, first to last. Klaviyo's `links.next` is an absolute URL on its host; its path is sent
 * through the same transport, so the base URL (Klaviyo, the emulator, a proxy) stays the one configured.
 */
export async function* pages(via: KlaviyoTransport, endpoint: EndpointName, firstPath: string): AsyncGenerator<any> {
  for (let path: string | undefined = firstPath; path; ) {
    const page = (await via.send({ endpoint, method: 'GET', path })).body;
    yield page;
    const next: unknown = page?.links?.next;
    path = typeof next === 'string' && next ? next.replace(/^https?:\/\/[^/]+/, '') : undefined;
  }
}

/** Hash routing (#/live/msg-1): the server serves static files only and needs no fallback route. */
import { useEffect, useState } from 'preact/hooks';

export const PAGES = [
  { id: 'overview', title: 'Overview' },
  { id: 'live', title: 'Live events' },
  { id: 'deliveries', title: 'Deliveries' },
  { id: 'dead-letters', title: 'Dead letters' },
  { id: 'tester', title: 'Mapping tester' },
  { id: 'config', title: 'Configuration' },
] as const;

export type PageId = (typeof PAGES)[number]['id'];

export interface Route {
  page: PageId;
  /** What follows the page: #/live/<message id>. */
  param: string | null;
}

export function parseHash(hash: string): Route {
  const [page, ...rest] = hash.replace(/^#\/?/, '').split('/');
  const known = PAGES.find((p) => p.id === page);
  return { page: known ? known.id : 'overview', param: rest.length ? decodeURIComponent(rest.join('/')) : null };
}

export const href = (page: PageId, param?: string) => `#/${page}${param ? `/${encodeURIComponent(param)}` : ''}`;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

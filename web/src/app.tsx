/** The app shell: token gate, navigation, and the page the hash names. */
import { useEffect, useState } from 'preact/hooks';
import { api, onAuthProblem } from './api';
import { clearToken, getToken, setToken } from './auth';
import { href, PAGES, useRoute, type PageId } from './router';
import { TokenScreen, type Gate } from './token-screen';
import type { AdminConfig } from './types';
import { Loading } from './components/states';
import { OverviewPage } from './pages/overview';
import { LivePage } from './pages/live';
import { DeliveriesPage } from './pages/deliveries';
import { DeadLettersPage } from './pages/dead-letters';
import { TesterPage } from './pages/tester';
import { ConfigPage } from './pages/config';

export function App() {
  const [gate, setGate] = useState<Gate | 'checking' | null>(getToken() ? 'checking' : 'ask');
  const [config, setConfig] = useState<AdminConfig>();
  const route = useRoute();

  useEffect(() => {
    onAuthProblem(() => {
      clearToken();
      setGate('refused');
    });
    // A stored token is checked once; a refused one leads back to the token screen.
    if (getToken())
      api.config().then(
        (c) => (setConfig(c), setGate(null)),
        () => setGate((g) => (g === 'checking' ? 'ask' : g)),
      );
  }, []);

  if (gate === 'checking') return <Loading what="the dashboard" />;
  if (gate || !config)
    return (
      <TokenScreen
        gate={gate ?? 'ask'}
        onAccepted={(token, c) => {
          setToken(token);
          setConfig(c);
          setGate(null);
        }}
      />
    );
  return <Shell page={route.page} param={route.param} config={config} onConfig={setConfig} onSignOut={() => (clearToken(), setGate('ask'))} />;
}

function Shell({
  page,
  param,
  config,
  onConfig,
  onSignOut,
}: {
  page: PageId;
  param: string | null;
  config: AdminConfig;
  onConfig: (c: AdminConfig) => void;
  onSignOut: () => void;
}) {
  const [menuOpen, setMenuOpen] = useState(false);
  const title = PAGES.find((p) => p.id === page)!.title;
  useEffect(() => {
    document.title = `${title} · klaviyo-destination`;
    setMenuOpen(false);
  }, [page]);

  return (
    <>
      {/* biome-ignore lint/a11y/useValidAnchor: a skip link keeps its href (works without script); the handler only moves focus */}
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">klaviyo-destination</span>
        <button type="button" class="menu-toggle" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)} data-testid="menu-toggle">
          Menu
        </button>
        <nav id="nav" aria-label="Dashboard" class={menuOpen ? 'open' : ''}>
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a href={href(p.id)} aria-current={p.id === page ? 'page' : undefined} data-testid={`nav-${p.id}`} onClick={() => setMenuOpen(false)}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
          <button type="button" class="link" onClick={onSignOut} data-testid="sign-out">
            Forget token
          </button>
        </nav>
      </header>
      <main id="main" tabIndex={-1} data-testid={`page-${page}`}>
        <h1>{title}</h1>
        {page === 'overview' ? <OverviewPage /> : null}
        {page === 'live' ? <LivePage config={config} openId={param} /> : null}
        {page === 'deliveries' ? <DeliveriesPage config={config} /> : null}
        {page === 'dead-letters' ? <DeadLettersPage config={config} /> : null}
        {page === 'tester' ? <TesterPage config={config} /> : null}
        {page === 'config' ? <ConfigPage config={config} onConfig={onConfig} /> : null}
      </main>
    </>
  );
}

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ViewerView } from '../dashboard/views';
import { api } from './api';
import { ClientPage } from './pages/client-page';
import { LoginPage } from './pages/login-page';
import { ModelsPage } from './pages/models-page';
import { OverviewPage } from './pages/overview-page';
import { navigate, onLinkClick, useRoute } from './router';
import './styles.css';

function App() {
  const [viewer, setViewer] = useState<ViewerView | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    api.session().then(
      (s) => setViewer(s.loggedIn ? (s.kind === 'admin' ? { kind: 'admin' } : { kind: 'client', ...(s.clientId ? { clientId: s.clientId } : {}) }) : null),
      () => setViewer(null),
    );
  }, []);
  useEffect(() => {
    const title = route.page === 'client' ? route.clientId : route.page === 'models' ? 'Models' : 'Fleet';
    document.title = `${title} · Prescient`;
  }, [route]);
  if (viewer === undefined) return <p class="status" role="status">Loading…</p>;
  if (viewer === null) return <LoginPage onLogin={setViewer} />;
  // A client credential has one page: its own.
  const page =
    route.page === 'client' ? (
      viewer.kind === 'client' && viewer.clientId !== route.clientId ? (
        <Forbidden what={`client ${route.clientId}`} />
      ) : (
        <ClientPage clientId={route.clientId} viewer={viewer} />
      )
    ) : route.page === 'models' ? (
      viewer.kind === 'admin' ? <ModelsPage /> : <Forbidden what="the models" />
    ) : route.page === 'overview' ? (
      <OverviewPage />
    ) : (
      <main id="main" class="page">
        <h1 id="page-title">Not found</h1>
        <p>
          <a href="/ui/">Back to the fleet</a>
        </p>
      </main>
    );
  return (
    <div onClick={onLinkClick}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/ui/" aria-label="Prescient, fleet overview">
          <span class="brand-mark" aria-hidden="true" />
          Prescient
        </a>
        <nav aria-label="Main">
          <a href="/ui/" aria-current={route.page === 'overview' ? 'page' : undefined}>
            {viewer.kind === 'admin' ? 'Fleet' : 'My images'}
          </a>
          {viewer.kind === 'client' ? (
            <a href={`/ui/clients/${viewer.clientId}`} aria-current={route.page === 'client' && route.clientId === viewer.clientId ? 'page' : undefined}>
              {viewer.clientId}
            </a>
          ) : null}
          {viewer.kind === 'admin' ? (
            <a href="/ui/models" aria-current={route.page === 'models' ? 'page' : undefined}>
              Models
            </a>
          ) : null}
        </nav>
        <div class="who">
          <span class="muted small">{viewer.kind === 'admin' ? 'admin' : `client ${viewer.clientId}`}</span>
          <button
            type="button"
            class="btn btn-small"
            onClick={() =>
              void api.logout().finally(() => {
                setViewer(null);
                navigate('/ui/');
              })
            }
          >
            Log out
          </button>
        </div>
      </header>
      {page}
    </div>
  );
}

function Forbidden({ what }: { what: string }) {
  return (
    <main id="main" class="page" aria-labelledby="page-title">
      <h1 id="page-title">Forbidden (403)</h1>
      <div class="notice notice-error" role="alert">
        Your credential may not see {what}.
      </div>
    </main>
  );
}

render(<App />, document.getElementById('app')!);

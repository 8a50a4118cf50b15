import { useState } from 'preact/hooks';
import type { ViewerView } from '../../dashboard/views';
import { api, ApiError } from '../api';

export function LoginPage(props: { onLogin: (v: ViewerView) => void }) {
  const [username, setUsername] = useState('admin');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      props.onLogin(await api.login(username.trim(), secret.trim()));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Unknown username or wrong secret.' : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login" aria-labelledby="login-title">
      <form class="login-card" onSubmit={(e) => void submit(e)} aria-describedby="login-help">
        <div class="brand brand-large">
          <span class="brand-mark" aria-hidden="true" />
          Prescient
        </div>
        <h1 id="login-title">Log in</h1>
        <p id="login-help" class="muted small">
          With a client credential (<code>prescient credentials issue ID</code>) or the admin one (<code>secrets/admin.secret</code>).
        </p>
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        <label for="secret">Secret</label>
        <input id="secret" name="secret" type="password" autocomplete="current-password" required value={secret} onInput={(e) => setSecret((e.target as HTMLInputElement).value)} />
        {error ? (
          <p class="error-text" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}

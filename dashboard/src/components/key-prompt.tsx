import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';

/**
 * Asked once when the API has REFLEX_API_KEY set: the key is traded for an HttpOnly session cookie
 * (POST /api/session) and never kept by the page itself.
 */
export function KeyPrompt({ onDone }: { onDone: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api('POST', '/api/session', { key });
      setKey('');
      onDone();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That key is not the API key of this Reflex.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="key-prompt">
      <h1>Reflex</h1>
      <form onSubmit={submit} class="card">
        <p>This Reflex requires its API key (REFLEX_API_KEY).</p>
        <label class="field">
          <span class="field-label">API key</span>
          <input
            type="password"
            name="key"
            autoComplete="current-password"
            required
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'key-error' : undefined}
          />
        </label>
        {error && (
          <p id="key-error" class="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || !key}>
          Sign in
        </button>
      </form>
    </main>
  );
}

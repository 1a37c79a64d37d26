import { useEffect, useState } from 'preact/hooks';
import { api, needsKey } from './api.ts';
import { KeyPrompt } from './components/key-prompt.tsx';
import { Layout } from './components/layout.tsx';
import { connectLive, disconnectLive } from './live.ts';
import { location } from './router.ts';
import { routeFor } from './routes.ts';
import type { Session } from './types.ts';

/** Asks the session first: with a key required and none held, nothing but the key prompt is shown. */
export function App() {
  const [session, setSession] = useState<Session>();
  const check = () =>
    api<Session>('GET', '/api/session').then(
      (s) => {
        needsKey.value = s.auth_required && !s.authenticated;
        setSession(s);
      },
      () => setSession({ auth_required: false, authenticated: false }),
    );
  useEffect(() => void check(), []);
  const locked = !session || needsKey.value;
  useEffect(() => {
    if (locked) disconnectLive();
    else connectLive();
  }, [locked]);
  const path = location.value.path;
  useEffect(() => {
    document.title = `${routeFor(path).title} · Reflex`;
  }, [path]);
  if (!session) return <p role="status">Loading…</p>;
  if (needsKey.value) return <KeyPrompt onDone={() => void check()} />;
  const { Page, params } = routeFor(path);
  const signOut = session.auth_required ? () => void api('DELETE', '/api/session').then(check) : undefined;
  return (
    <Layout onSignOut={signOut}>
      <Page {...params} />
    </Layout>
  );
}

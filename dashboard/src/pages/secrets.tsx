import { get, type Page } from '../api.ts';
import { Empty, ErrorBox, Json, Loading, Time } from '../components/ui.tsx';
import { useResource } from '../hooks.ts';

/** A secret as GET /api/secrets answers it: names and grants only, never a value (schemas/secret.ts). */
interface SecretView {
  name: string;
  description: string | null;
  allowed: { deployments: string[]; work_pools: string[]; automations: string[] };
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
}

interface Variable {
  name: string;
  value: unknown;
  tags: string[];
  updated_at: string;
}

const grants = (a: SecretView['allowed']) =>
  [...a.deployments.map((d) => `deployment ${d}`), ...a.work_pools.map((p) => `work pool ${p}`), ...a.automations.map((x) => `automation ${x}`)].join(', ') || 'nobody';

/** Secrets: who may use each and when it was last used. Values are write-only (`reflex secret set`). */
export function SecretsPage() {
  const list = useResource(() => get<Page<SecretView>>('/api/secrets'), 'secrets', { pollMs: 5000 });
  return (
    <>
      <h1>Secrets</h1>
      <p>Values are encrypted and never shown; set them with <code>reflex secret set</code> or <code>PUT /api/secrets/&lt;name&gt;</code>.</p>
      <ErrorBox error={list.error} />
      {!list.data ? (
        <Loading what="secrets" />
      ) : list.data.items.length === 0 ? (
        <Empty>No secrets.</Empty>
      ) : (
        <table>
          <caption class="sr-only">Secrets</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">May be used by</th>
              <th scope="col">Last used</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((s) => (
              <tr key={s.name}>
                <td>
                  <code>{s.name}</code>
                  {s.description ? <div>{s.description}</div> : null}
                </td>
                <td>{grants(s.allowed)}</td>
                <td>{s.last_used_at ? <Time iso={s.last_used_at} /> : 'never'}</td>
                <td>
                  <Time iso={s.updated_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** Variables: named JSON values read by flows and automation templates. */
export function VariablesPage() {
  const list = useResource(() => get<Page<Variable>>('/api/variables'), 'variables', { pollMs: 5000 });
  return (
    <>
      <h1>Variables</h1>
      <ErrorBox error={list.error} />
      {!list.data ? (
        <Loading what="variables" />
      ) : list.data.items.length === 0 ? (
        <Empty>No variables. <code>reflex variable set &lt;name&gt; &lt;json&gt;</code> creates one.</Empty>
      ) : (
        <table>
          <caption class="sr-only">Variables</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
              <th scope="col">Tags</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((v) => (
              <tr key={v.name}>
                <td>
                  <code>{v.name}</code>
                </td>
                <td>
                  <Json value={v.value} label={`value of ${v.name}`} />
                </td>
                <td>{v.tags.join(', ')}</td>
                <td>
                  <Time iso={v.updated_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

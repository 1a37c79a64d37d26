/**
 * Where a client reaches the API: REFLEX_API_URL, else REFLEX_PUBLIC_URL, else REFLEX_HOST and
 * REFLEX_PORT (0.0.0.0 reached as 127.0.0.1). The one derivation, used by loadConfig and by the CLI's
 * HTTP commands; kept free of zod so that a command that only calls the API starts without loading it
 * (about a third of its start-up time). The settings themselves are declared in core/config.ts.
 */
export function apiEndpointUrl(values: { apiUrl?: string; publicUrl?: string; host: string; port: number }): string {
  return (values.apiUrl ?? values.publicUrl ?? `http://${values.host === '0.0.0.0' ? '127.0.0.1' : values.host}:${values.port}`).replace(/\/+$/, '');
}

/** The endpoint and key from the environment, checked as loadConfig checks them (a bad value names its variable). */
export function apiEndpointFromEnv(env: NodeJS.ProcessEnv = process.env): { url: string; apiKey?: string } | { error: string } {
  for (const name of ['REFLEX_API_URL', 'REFLEX_PUBLIC_URL'] as const) {
    const v = env[name];
    if (v === undefined) continue;
    try {
      new URL(v);
    } catch {
      return { error: `invalid environment: ${name}: invalid URL` };
    }
  }
  const port = env.REFLEX_PORT === undefined ? 4200 : Number(env.REFLEX_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { error: 'invalid environment: REFLEX_PORT: must be a whole number from 0 to 65535' };
  const url = apiEndpointUrl({ apiUrl: env.REFLEX_API_URL, publicUrl: env.REFLEX_PUBLIC_URL, host: env.REFLEX_HOST ?? '127.0.0.1', port });
  return { url, ...(env.REFLEX_API_KEY ? { apiKey: env.REFLEX_API_KEY } : {}) };
}

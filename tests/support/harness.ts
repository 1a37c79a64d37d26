import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { resetNamespace } from '../../infra/reset.ts';
import type { ApiService } from '../../services/api/main.ts';
import { startEngine, type Engine } from '../../services/engine.ts';
import type { ServiceName } from '../../services/registry.ts';

/** A namespace of its own for each test engine, so parallel runs never see each other's data. */
export function testNamespace(label = 't'): string {
  return `${label}_${randomBytes(5).toString('hex')}`;
}

export interface TestEngine extends Engine {
  readonly config: Config;
  /** Base URL of the API, e.g. http://127.0.0.1:41234 (empty when the api service is not started). */
  readonly url: string;
  /** Calls the API and parses the JSON answer. */
  api<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; headers: Headers }>;
  /** Stops the engine and deletes everything its namespace owns. */
  cleanup(): Promise<void>;
}

export async function startTestEngine(
  options: { services?: ServiceName[]; config?: Partial<Config>; namespace?: string; /** Where log lines go (e.g. to check them), instead of stdout. */ logTo?: NodeJS.WritableStream } = {},
): Promise<TestEngine> {
  const namespace = options.namespace ?? process.env.REFLEX_NAMESPACE_PREFIX ?? testNamespace();
  const config = loadConfig(process.env, {
    port: 0,
    // No metrics listener per test engine without the API (they would all want REFLEX_METRICS_PORT).
    metricsPort: 0,
    logLevel: (process.env.REFLEX_TEST_LOG_LEVEL as Config['logLevel']) ?? 'silent',
    automationsDir: '',
    ...options.config,
    namespace,
  });
  const log = createLogger({ level: config.logLevel, destination: options.logTo });
  const engine = await startEngine(config, { services: options.services, log });
  const apiService = engine.services.find((s) => s.name === 'api') as ApiService | undefined;
  const url = apiService?.url ?? '';
  return {
    ...engine,
    config,
    url,
    async api(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: parsed as any, headers: res.headers };
    },
    async cleanup() {
      const { bus, redis, pg } = engine.rt;
      // Reset needs the connections, so it runs before they are closed.
      for (const s of [...engine.services].reverse()) await s.stop().catch(() => {});
      await resetNamespace({ bus, redis, pg }).catch(() => {});
      await engine.stop();
    },
  };
}

/** Polls until fn returns a truthy value, or fails after the timeout with the last value seen. */
export async function waitFor<T>(fn: () => Promise<T> | T, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25));
  }
}

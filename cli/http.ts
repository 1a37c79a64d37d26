import { loadConfig } from '../core/config.ts';
import { CliError, EXIT } from './output.ts';

/** An answer of the API that is not a success, with the exit code it maps to (docs/cli.md). */
function exitFor(status: number): number {
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 503 || status === 502 || status === 504) return EXIT.environment;
  if (status === 401 || status === 403) return EXIT.environment;
  return EXIT.failed;
}

export interface ApiErrorBody {
  error?: { code?: string; message?: string; issues?: { path: string; message: string }[] };
}

/**
 * Calls the Reflex API (REFLEX_API_URL, default http://127.0.0.1:4200; REFLEX_API_KEY as the bearer
 * token). A refused connection or an error answer becomes a CliError of one line (plus the field
 * issues) naming the URL, the status and the API's message, with the exit code of docs/cli.md.
 */
export async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const config = loadConfig();
  const url = config.apiUrl + path;
  const h: Record<string, string> = { ...headers };
  if (config.apiKey) h.authorization = `Bearer ${config.apiKey}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach the Reflex API at ${config.apiUrl} (${cause?.code ?? cause?.message ?? (err as Error).message}). Start it with \`reflex start api\`, or set REFLEX_API_URL.`,
      EXIT.environment,
    );
  }
  if (!res.ok) {
    const text = await res.text();
    let parsed: ApiErrorBody | undefined;
    try {
      parsed = JSON.parse(text) as ApiErrorBody;
    } catch {
      /* not JSON: shown as is */
    }
    const message = parsed?.error?.message ?? text;
    const issues = (parsed?.error?.issues ?? []).map((i) => `  ${i.path || '(root)'}: ${i.message}`);
    throw new ApiAnswerError(res.status, parsed?.error?.code, [`${method} ${path.split('?')[0]} answered ${res.status}: ${message}`, ...issues].join('\n'), exitFor(res.status));
  }
  return res;
}

/** The API answered with an error status. */
export class ApiAnswerError extends CliError {
  constructor(
    readonly httpStatus: number,
    readonly apiCode: string | undefined,
    message: string,
    exitCode: number,
  ) {
    super(message, exitCode);
  }
}

/** Calls the API and parses its JSON answer (an empty 204 answers null). */
export async function callJson<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await call(method, path, body);
  if (res.status === 204) return null as T;
  return (await res.json()) as T;
}

/** A query string from the options that are set (arrays repeat the parameter). */
export function query(params: Record<string, string | number | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  return q.size ? `?${q}` : '';
}

/** An id or name as one path segment. */
export const seg = (s: string): string => encodeURIComponent(s);

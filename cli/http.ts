import { apiEndpointFromEnv } from '../core/api-endpoint.ts';
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

/** What an API call answers: the status and the body's text. */
export interface Answer {
  status: number;
  text: string;
}

function endpoint(): { apiUrl: string; apiKey?: string } {
  const e = apiEndpointFromEnv();
  if ('error' in e) throw new CliError(e.error, EXIT.failed);
  return { apiUrl: e.url, apiKey: e.apiKey };
}

function unreachable(apiUrl: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = (err as { code?: string }).code;
  return new CliError(
    `cannot reach the Reflex API at ${apiUrl} (${cause?.code ?? code ?? cause?.message ?? (err as Error).message}). Start it with \`reflex start api\`, or set REFLEX_API_URL.`,
    EXIT.environment,
  );
}

function refusal(method: string, path: string, status: number, text: string): ApiAnswerError {
  let parsed: ApiErrorBody | undefined;
  try {
    parsed = JSON.parse(text) as ApiErrorBody;
  } catch {
    /* not JSON: shown as is */
  }
  const message = parsed?.error?.message ?? text;
  const issues = (parsed?.error?.issues ?? []).map((i) => `  ${i.path || '(root)'}: ${i.message}`);
  return new ApiAnswerError(status, parsed?.error?.code, [`${method} ${path.split('?')[0]} answered ${status}: ${message}`, ...issues].join('\n'), exitFor(status));
}

/**
 * Calls the Reflex API (REFLEX_API_URL, default http://127.0.0.1:4200; REFLEX_API_KEY as the bearer
 * token) with node:http, not fetch: loading fetch's implementation costs more than the rest of a
 * command's start-up. A refused connection or an error answer becomes a CliError of one line (plus the
 * field issues) naming the URL, the status and the API's message, with the exit code of docs/cli.md.
 */
export async function request(method: string, path: string, body?: unknown): Promise<Answer> {
  const { apiUrl, apiKey } = endpoint();
  const url = new URL(apiUrl + path);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const { request: send } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const answer = await new Promise<Answer>((resolve, reject) => {
    const req = send(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (err) => reject(unreachable(apiUrl, err)));
    req.end(payload);
  });
  if (answer.status < 200 || answer.status >= 300) throw refusal(method, path, answer.status, answer.text);
  return answer;
}

/** Calls the API with fetch and answers the Response (for streams: `events tail`). */
export async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const { apiUrl, apiKey } = endpoint();
  const h: Record<string, string> = { ...headers };
  if (apiKey) h.authorization = `Bearer ${apiKey}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(apiUrl + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw unreachable(apiUrl, err);
  }
  if (!res.ok) throw refusal(method, path, res.status, await res.text());
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
  const res = await request(method, path, body);
  if (res.status === 204 || res.text === '') return null as T;
  return JSON.parse(res.text) as T;
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

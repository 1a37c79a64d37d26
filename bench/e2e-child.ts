import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The bench's helper processes (load generator, receiver, baseline flow) run in processes of their own, so
 * none of them takes event-loop time from another or from the bench's measuring, and /proc shows what each
 * costs. They talk over the IPC channel: one `ready` message, then one reply per request, matched by id.
 */
export interface BenchChild {
  pid: number;
  /** What the child said when it was ready (its port, say). */
  ready: Record<string, unknown>;
  request<T>(message: Record<string, unknown>): Promise<T>;
  /** Asks the child to exit, and kills it if it has not after 5 s. */
  stop(): Promise<void>;
}

export interface ChildReply {
  id: number;
  result?: unknown;
  error?: string;
}

export async function forkBenchChild(file: string, env: Record<string, string> = {}): Promise<BenchChild> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Record<string, unknown>));
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
  });
  child.on('message', (m) => {
    const reply = m as ChildReply;
    const w = waiting.get(reply.id);
    if (!w) return;
    waiting.delete(reply.id);
    if (reply.error) w.reject(new Error(reply.error));
    else w.resolve(reply.result);
  });
  child.on('exit', () => {
    for (const w of waiting.values()) w.reject(new Error(`${file} exited`));
    waiting.clear();
  });
  return {
    pid: child.pid as number,
    ready,
    request<T>(message: Record<string, unknown>) {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...message, id });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The child's side: answers each request with `handle`'s result (or its error's message). */
export function serveRequests(handle: (message: Record<string, unknown>) => unknown): void {
  process.on('message', async (m: Record<string, unknown> & { id: number }) => {
    try {
      process.send?.({ id: m.id, result: await handle(m) } satisfies ChildReply);
    } catch (err) {
      process.send?.({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies ChildReply);
    }
  });
  // The bench's SIGTERM, or the bench gone (its IPC channel closed): nothing of ours outlives it.
  process.once('SIGTERM', () => process.exit(0));
  process.once('disconnect', () => process.exit(0));
}

/** Epoch milliseconds with sub-millisecond precision, comparable between the bench's processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

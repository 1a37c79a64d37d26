import { createServer } from 'node:net';
import { PortInUseError } from '../core/errors.ts';

/** Listen failures that mean "this address is not available to us", with the words a user reads. */
const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not available on this machine (check REFLEX_HOST)',
};

/** The listen error as a PortInUseError naming the address, or null when it is something else. */
export function asListenError(err: unknown, host: string, port: number): PortInUseError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !Object.hasOwn(LISTEN_REASONS, code)) return null;
  const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new PortInUseError(shown, `${LISTEN_REASONS[code]} (${code})`, err);
}

/**
 * Binds the address and lets it go again, before anything connects to a dependency: a taken port then
 * fails the start with one line and nothing half-started. (Another process can still take the port in
 * between; the API's own listen translates that failure the same way.) Port 0 always succeeds.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err) => reject(asListenError(err, host, port) ?? err));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

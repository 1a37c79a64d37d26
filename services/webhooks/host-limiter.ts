/**
 * In-flight requests per destination host, per process: one slow receiver holds at most `limit` of a
 * replica's worker slots, so deliveries to other hosts keep flowing.
 */
export class HostLimiter {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly limit: number) {}

  tryAcquire(host: string): boolean {
    const n = this.inFlight.get(host) ?? 0;
    if (n >= this.limit) return false;
    this.inFlight.set(host, n + 1);
    return true;
  }

  release(host: string): void {
    const n = (this.inFlight.get(host) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(host);
    else this.inFlight.set(host, n);
  }
}

import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Queue } from 'bullmq';
import { WebhookDeliveryJobSchema } from '../schemas/jobs.ts';
import { deliveryQueue, enqueueDelivery } from '../services/webhooks/enqueue.ts';
import { Receiver } from './support/receiver.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { freePort } from './support/net.ts';

/**
 * A delivery enqueued while the delivery log (Postgres) is down must wait for it, without failing and
 * without spending the receiver's attempts, and be sent exactly once when Postgres is back. The shared
 * Postgres on 5432 serves the other test files, so this one kills a cluster of its own.
 */

/** The newest installed PostgreSQL's bin directory (Debian layout), if any. */
function findPgBin(): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync('/usr/lib/postgresql');
  } catch {
    return undefined;
  }
  return versions
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => `/usr/lib/postgresql/${v}/bin`)
    .find((dir) => ['initdb', 'postgres', 'pg_isready'].every((b) => isExecutable(join(dir, b))));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Postgres refuses to run as root: as root, the cluster runs as the `postgres` OS user. */
function clusterOwner(): { uid: number; gid: number } | undefined | null {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return null;
  }
}

/** A throwaway PostgreSQL cluster, restartable on the same port and data directory. */
class PrivatePostgres {
  private proc: ChildProcess | undefined;
  private output = '';

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    private readonly owner: { uid: number; gid: number } | undefined,
  ) {}

  static async create(bin: string, owner: { uid: number; gid: number } | undefined): Promise<PrivatePostgres> {
    const dir = await mkdtemp(join(tmpdir(), 'reflex-pg-outage-'));
    const cluster = new PrivatePostgres(bin, dir, await freePort(), owner);
    try {
      if (owner) await chown(dir, owner.uid, owner.gid);
      await new Promise<void>((resolve, reject) =>
        execFile(
          join(bin, 'initdb'),
          ['-D', cluster.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'],
          { ...cluster.spawnOptions(), timeout: 60_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`initdb failed: ${err.message}\n${stdout}${stderr}`)) : resolve()),
        ),
      );
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return cluster;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  private spawnOptions() {
    // cwd: the postgres user may not be able to enter the test's working directory.
    return { cwd: this.dir, ...(this.owner ?? {}), env: { ...process.env, LC_ALL: 'C' } };
  }

  get url(): string {
    // The maintenance database exists from initdb on, so the engine needs no CREATE DATABASE.
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async start(): Promise<void> {
    const args = ['-D', this.dataDir, '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    // Its own process group: a kill takes the backends with the postmaster, as a crash of the host would,
    // and leaves no orphan holding the shared memory that would stop the restart.
    const proc = spawn(join(this.bin, 'postgres'), args, { ...this.spawnOptions(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    // Detached, it would outlive a test process that dies before after() runs.
    process.once('exit', () => {
      if (this.proc === proc && this.running && proc.pid) process.kill(-proc.pid, 'SIGKILL');
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    await waitFor(
      async () => {
        // An early exit (port taken, bad data directory) would otherwise surface only as a timeout.
        if (!this.running) throw new Error(`postgres exited (${proc.exitCode ?? proc.signalCode}):\n${this.output}`);
        return this.isReady();
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `postgres on port ${this.port}` },
    );
  }

  private isReady(): Promise<boolean> {
    return new Promise((resolve) =>
      execFile(join(this.bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-d', 'postgres', '-t', '2'], { timeout: 5000 }, (err) =>
        resolve(!err),
      ),
    );
  }

  /** SIGKILL to the whole cluster: no shutdown, no goodbye to the clients. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc?.pid || !this.running) return;
    const exited = once(proc, 'exit');
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      proc.kill('SIGKILL');
    }
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

const pgBin = findPgBin();
const owner = clusterOwner();
const skip = !pgBin
  ? 'PostgreSQL server binaries not found (/usr/lib/postgresql/<version>/bin): this test needs a cluster of its own to kill'
  : owner === null
    ? 'running as root without a `postgres` OS user: PostgreSQL refuses to run as root'
    : false;

describe('a webhook delivery survives a PostgreSQL outage', { skip }, () => {
  const receiver = new Receiver();
  let cluster: PrivatePostgres | undefined;
  let t: TestEngine | undefined;
  let queue: Queue | undefined;

  before(async () => {
    await receiver.start();
    cluster = await PrivatePostgres.create(pgBin as string, owner ?? undefined);
    await cluster.start();
    t = await startTestEngine({ services: ['webhooks', 'api'], config: { databaseUrl: cluster.url, webhookAllowHosts: ['127.0.0.1'] } });
    queue = deliveryQueue(t.rt);
  });

  after(async () => {
    await receiver.stop();
    try {
      // Reset drops the namespace's schema last; with Postgres down it would fail after its connect timeout.
      if (t && cluster && !cluster.running) await cluster.start().catch(() => {});
      await queue?.close();
      await t?.cleanup();
    } finally {
      await cluster?.destroy();
    }
  });

  const job = (path: string) => {
    const id = randomUUID();
    return WebhookDeliveryJobSchema.parse({
      delivery_id: id,
      idempotency_key: id,
      url: `${receiver.url}${path}`,
      body: JSON.stringify({ delivery: id }),
      // Fewer attempts than the outage lasts for: had it spent any, the count would show it or the delivery fail.
      retry: { attempts: 2, delay_seconds: 0.05 },
      timeout_seconds: 2,
    });
  };

  const deliveryOf = async (id: string) => (await (t as TestEngine).api('GET', `/api/webhook-deliveries/${id}`)).body;

  it('waits for the delivery log and then sends once, with its attempt budget intact', async (ctx) => {
    const engine = t as TestEngine;
    const pg = cluster as PrivatePostgres;
    const q = queue as Queue;

    // A delivery before the outage leaves the pool with idle connections, which the kill breaks under it.
    const warm = job('/before');
    await enqueueDelivery(engine.rt, warm);
    await waitFor(async () => (await deliveryOf(warm.delivery_id))?.status === 'succeeded', { timeoutMs: 15_000, what: 'the delivery before the outage' });
    assert.ok(engine.rt.pg.idleCount > 0, 'the pool holds idle connections when Postgres goes away');

    const killedAt = Date.now();
    await pg.kill();

    const j = job(`/during/${randomUUID()}`);
    const path = new URL(j.url).pathname;
    await enqueueDelivery(engine.rt, j);
    // Two failures, as many as the receiver's attempts. Delayed, not failed: the job records each failure,
    // then moves itself back to delayed to try again.
    const failed = await waitFor(
      async () => {
        const data = (await q.getJob(j.idempotency_key))?.data as { service_failures?: number } | undefined;
        return (data?.service_failures ?? 0) >= 2 && (await q.getJobState(j.idempotency_key)) === 'delayed' ? data : null;
      },
      { timeoutMs: 20_000, what: 'the job to record two service failures and wait' },
    );
    assert.equal(receiver.requestsTo(path).length, 0, 'nothing is sent before the delivery is in the log');

    const restartedAt = Date.now();
    await pg.start();
    const readyAt = Date.now();
    // The backoff after a few failures is seconds long (500 ms * 2^n, at most 60 s).
    await waitFor(() => receiver.requestsTo(path).length > 0, { timeoutMs: 60_000, intervalMs: 50, what: 'the receiver to get the delivery' });
    const sentAt = Date.now();
    const d = await waitFor(
      async () => {
        const body = await deliveryOf(j.delivery_id);
        return body?.status === 'succeeded' ? body : null;
      },
      { timeoutMs: 15_000, what: 'the delivery log to show the delivery succeeded' },
    );
    const final = await q.getJob(j.idempotency_key);
    ctx.diagnostic(
      `Postgres down ${restartedAt - killedAt} ms (${failed.service_failures} service failures by then); ` +
        `up again in ${readyAt - restartedAt} ms; delivered ${sentAt - readyAt} ms later ` +
        `after ${(final?.data as { service_failures?: number } | undefined)?.service_failures} service failure(s)`,
    );

    assert.equal(receiver.requestsTo(path).length, 1, 'sent exactly once');
    const [req] = receiver.requestsTo(path);
    assert.equal(req.body, j.body);
    assert.equal(d.attempt_count, 1, 'the outage did not count as attempts');
    assert.equal(d.attempts.length, 1);
    assert.deepEqual({ series: d.attempts[0].series, attempt: d.attempts[0].attempt, status_code: d.attempts[0].status_code }, { series: 1, attempt: 1, status_code: 204 });
    assert.equal(d.next_attempt_at, null);
    assert.equal(await q.getJobState(j.idempotency_key), 'completed');
    assert.equal((final?.data as { attempt?: number } | undefined)?.attempt, 1, "the job's attempt number is unchanged by the outage");
  });
});

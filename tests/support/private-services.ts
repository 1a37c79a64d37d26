import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './net.ts';

/**
 * Private NATS, Redis and PostgreSQL servers for tests that kill a dependency: the servers on the
 * standard ports serve every other test file at once, so a test that stops one starts its own, on a free
 * port with a data directory of its own, restartable on both. Each `kill()` is a SIGKILL (no clean
 * shutdown, as in a crash); `stop()` is the server's own graceful or immediate shutdown where it has one.
 */

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, extra: string[] = []): string | undefined {
  return [...extra, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name))].find(isExecutable);
}

export const natsServerBin = onPath('nats-server', ['/usr/sbin/nats-server']);
export const redisServerBin = onPath('redis-server', ['/usr/bin/redis-server']);

/** The newest installed PostgreSQL's bin directory (Debian layout), if any. */
export const pgBinDir: string | undefined = (() => {
  let versions: string[];
  try {
    versions = readdirSync('/usr/lib/postgresql');
  } catch {
    return undefined;
  }
  return versions
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => `/usr/lib/postgresql/${v}/bin`)
    .find((dir) => ['initdb', 'postgres', 'pg_isready', 'pg_ctl'].every((b) => isExecutable(join(dir, b))));
})();

/** Postgres refuses to run as root: as root, the cluster runs as the `postgres` OS user (null: none exists). */
export const pgOwner: { uid: number; gid: number } | undefined | null = (() => {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return null;
  }
})();

/** Why a private server of this kind cannot run here, or false when it can (a `skip` for node:test). */
export const skipWithout = {
  nats: natsServerBin ? false : 'nats-server not found (/usr/sbin/nats-server or on PATH): this test needs a NATS server of its own to kill',
  redis: redisServerBin ? false : 'redis-server not found on PATH: this test needs a Redis server of its own to kill',
  postgres: !pgBinDir
    ? 'PostgreSQL server binaries not found (/usr/lib/postgresql/<version>/bin): this test needs a cluster of its own to kill'
    : pgOwner === null
      ? 'running as root without a `postgres` OS user: PostgreSQL refuses to run as root'
      : false,
} as const;

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True once something answers on the port and its first bytes satisfy `greeting` (or at once without it). */
function answers(port: number, send: string | null, greeting: (data: string) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => send !== null && socket.write(send));
    socket.once('data', (data) => done(greeting(data.toString())));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** A server child process: start, SIGKILL, restart on the same port and data; killed if the test process dies. */
abstract class PrivateServer {
  protected proc: ChildProcess | undefined;
  private output = '';
  private cleanupRegistered = false;

  protected constructor(
    readonly port: number,
    protected readonly dir: string,
  ) {}

  abstract get url(): string;
  protected abstract command(): { bin: string; args: string[]; options?: Parameters<typeof spawn>[2] };
  protected abstract ready(): Promise<boolean>;
  protected abstract readonly label: string;

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** What the server printed last (for failure messages). */
  get log(): string {
    return this.output;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const { bin, args, options } = this.command();
    // Its own process group: a kill takes its children with it, as a crash of the host would.
    const proc = spawn(bin, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    if (!this.cleanupRegistered) {
      this.cleanupRegistered = true;
      // Detached, it would outlive a test process that dies before its after() hook.
      process.once('exit', () => this.killNow());
    }
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    await waitUntil(
      async () => {
        // An early exit (port taken, bad data directory) would otherwise surface only as a timeout.
        if (!this.running) throw new Error(`${this.label} exited (${proc.exitCode ?? proc.signalCode}):\n${this.output}`);
        return this.ready();
      },
      timeoutMs,
      `${this.label} on port ${this.port}`,
    );
  }

  private killNow(): void {
    const pid = this.proc?.pid;
    if (!pid || !this.running) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      this.proc?.kill('SIGKILL');
    }
  }

  /** SIGKILL to the server and its children: no shutdown, no goodbye to its clients. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = once(proc, 'exit');
    this.killNow();
    await exited;
  }

  /** Kills the server and deletes its data directory. */
  async destroy(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** nats-server with JetStream storing under its own directory. */
export class PrivateNats extends PrivateServer {
  protected readonly label = 'nats-server';

  static async create(): Promise<PrivateNats> {
    if (!natsServerBin) throw new Error(skipWithout.nats || 'nats-server not found');
    return new PrivateNats(await freePort(), await mkdtemp(join(tmpdir(), 'reflex-nats-')));
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  protected command() {
    return { bin: natsServerBin as string, args: ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.dir] };
  }

  protected ready(): Promise<boolean> {
    // Its INFO line is the first thing a NATS server sends.
    return answers(this.port, null, (d) => d.startsWith('INFO '));
  }
}

/** redis-server with an append-only file (what a deployment should run: nothing acknowledged is lost). */
export class PrivateRedis extends PrivateServer {
  protected readonly label = 'redis-server';

  static async create(): Promise<PrivateRedis> {
    if (!redisServerBin) throw new Error(skipWithout.redis || 'redis-server not found');
    return new PrivateRedis(await freePort(), await mkdtemp(join(tmpdir(), 'reflex-redis-')));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  protected command() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'];
    return { bin: redisServerBin as string, args };
  }

  protected ready(): Promise<boolean> {
    return answers(this.port, 'PING\r\n', (d) => d.startsWith('+PONG'));
  }
}

/** A throwaway PostgreSQL cluster (initdb in a temp directory), run as the `postgres` user under root. */
export class PrivatePostgres extends PrivateServer {
  protected readonly label = 'postgres';

  private constructor(
    port: number,
    dir: string,
    private readonly bin: string,
    private readonly owner: { uid: number; gid: number } | undefined,
  ) {
    super(port, dir);
  }

  static async create(): Promise<PrivatePostgres> {
    if (skipWithout.postgres) throw new Error(skipWithout.postgres);
    const cluster = new PrivatePostgres(await freePort(), await mkdtemp(join(tmpdir(), 'reflex-pg-')), pgBinDir as string, pgOwner ?? undefined);
    try {
      if (cluster.owner) await chown(cluster.dir, cluster.owner.uid, cluster.owner.gid);
      await new Promise<void>((resolve, reject) =>
        execFile(
          join(cluster.bin, 'initdb'),
          ['-D', cluster.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'],
          { ...cluster.spawnOptions(), timeout: 60_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`initdb failed: ${err.message}\n${stdout}${stderr}`)) : resolve()),
        ),
      );
    } catch (err) {
      await rm(cluster.dir, { recursive: true, force: true });
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

  protected command() {
    const args = ['-D', this.dataDir, '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    return { bin: join(this.bin, 'postgres'), args, options: this.spawnOptions() };
  }

  protected ready(): Promise<boolean> {
    return new Promise((resolve) =>
      execFile(join(this.bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-d', 'postgres', '-t', '2'], { timeout: 5000 }, (err) =>
        resolve(!err),
      ),
    );
  }

  /** `pg_ctl stop -m immediate`: the postmaster kills its backends at once, without a checkpoint. */
  async stopImmediate(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = once(proc, 'exit');
    await new Promise<void>((resolve, reject) =>
      execFile(join(this.bin, 'pg_ctl'), ['stop', '-D', this.dataDir, '-m', 'immediate', '-w'], { ...this.spawnOptions(), timeout: 30_000 }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    await exited;
  }
}

import { PrivateNats, PrivatePostgres, PrivateRedis, skipWithout } from '../tests/support/private-services.ts';

export const DEPENDENCIES = ['nats', 'redis', 'postgres'] as const;
export type DependencyName = (typeof DEPENDENCIES)[number];

/**
 * The suite's own NATS (JetStream on file storage), Redis (AOF, noeviction) and PostgreSQL, on free ports
 * with data directories of their own: the servers on the standard ports serve other people's tests, and
 * the suite kills these. Started once for the whole run; each scenario uses a namespace of its own.
 */
export class Dependencies {
  private constructor(
    readonly nats: PrivateNats,
    readonly redis: PrivateRedis,
    readonly postgres: PrivatePostgres,
  ) {}

  /** Creates and starts the three servers; throws, saying what is missing, when one cannot run here. */
  static async start(): Promise<Dependencies> {
    for (const name of DEPENDENCIES) {
      const reason = skipWithout[name];
      if (reason) throw new Error(`the fault suite needs a private ${name} server: ${reason}`);
    }
    const [nats, redis, postgres] = await Promise.all([PrivateNats.create(), PrivateRedis.create(), PrivatePostgres.create()]);
    const deps = new Dependencies(nats, redis, postgres);
    try {
      await Promise.all([nats.start(), redis.start(), postgres.start()]);
    } catch (err) {
      await deps.destroy();
      throw err;
    }
    return deps;
  }

  server(name: DependencyName): PrivateNats | PrivateRedis | PrivatePostgres {
    return this[name];
  }

  /** Restarts whatever a scenario left stopped, so the next scenario starts on healthy servers. */
  async ensureRunning(): Promise<void> {
    await Promise.all(DEPENDENCIES.map((d) => (this[d].running ? undefined : this[d].start())));
  }

  /** Kills the servers and removes their data directories. */
  async destroy(): Promise<void> {
    await Promise.allSettled(DEPENDENCIES.map((d) => this[d].destroy()));
  }
}

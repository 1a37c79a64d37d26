import { StorageType } from '@nats-io/jetstream';
import type { Redis } from 'ioredis';
import type { EventBus } from './bus.ts';
import type { Logger } from '../core/log.ts';

/**
 * Start-up checks of the server settings Reflex's durability depends on but cannot set itself
 * (docs/reliability.md). Each problem is one warning line saying what is lost and what to set; none stops
 * start-up, since a development setup may not care. Read with INFO and the stream's info, which managed
 * services allow where CONFIG is often refused.
 */
export async function checkDurability(redis: Redis, bus: EventBus): Promise<string[]> {
  const warnings: string[] = [];
  const [persistence, memory] = await Promise.all([redis.info('persistence'), redis.info('memory')]);
  const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  const policy = field(memory, 'maxmemory_policy');
  if (policy && policy !== 'noeviction') {
    warnings.push(`Redis maxmemory-policy is ${policy}: under memory pressure Redis deletes keys, queued jobs and trigger state among them; set maxmemory-policy noeviction`);
  }
  if (field(persistence, 'aof_enabled') === '0') {
    warnings.push('Redis AOF is off: queued jobs and trigger state written since the last snapshot are lost when Redis stops; run it with appendonly yes and appendfsync everysec (or always)');
  }
  const stream = bus.names.streams.events;
  const info = await bus.jsm.streams.info(stream).catch(() => null);
  if (info && info.config.storage !== StorageType.File) {
    warnings.push(`JetStream stream ${stream} keeps events in memory: events already acknowledged to clients are lost when NATS restarts; recreate the stream with file storage`);
  }
  return warnings;
}

let checked = false;

/** Runs the checks once per process (every runtime of a process shares the servers) and logs each warning. */
export async function warnAboutDurability(redis: Redis, bus: EventBus, log: Logger): Promise<void> {
  if (checked) return;
  checked = true;
  try {
    for (const warning of await checkDurability(redis, bus)) log.warn({ check: 'durability' }, warning);
  } catch (err) {
    log.debug({ err }, 'could not check the durability settings');
  }
}

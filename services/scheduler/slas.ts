import type { Redis } from 'ioredis';
import { systemEvent } from '../../core/events.ts';
import type { Logger } from '../../core/log.ts';
import { EventNames, resourceId, type Names } from '../../core/names.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Pool } from '../../infra/db.ts';
import { queryEvents } from '../../modules/events/index.ts';
import { deploymentsWithSlas, evaluateSlas, slaEventId, slaRunFacts, slaTransitions, type SlaDeployment, type SlaViolation } from '../../modules/runs/index.ts';

/**
 * Evaluates deployment SLAs every few seconds (issue 15) and announces each change: `reflex.sla.violated`
 * when a condition starts, `reflex.sla.resolved` when it ends, with the deployment as the resource and the
 * run (when the SLA is about one) as a related resource.
 *
 * Exactly once across scheduler replicas: a violation's `since` comes from the data, so every replica
 * derives the same event id (JetStream drops the duplicate publish, the recorder's insert is idempotent on
 * the id); the open violations are remembered in one Redis hash per deployment, written only after the
 * event is stored, so a replica that dies between the two leaves the next pass to publish (the same id) again.
 */
export class SlaMonitor {
  constructor(
    private readonly deps: { pg: Pool; redis: Redis; names: Names; bus: EventBus; log: Logger },
  ) {}

  /** One pass over every deployment with SLAs. Answers how many events it announced. */
  async tick(now = Date.now()): Promise<{ violated: number; resolved: number }> {
    const total = { violated: 0, resolved: 0 };
    const open = await this.deps.redis.smembers(this.deps.names.keys.slaOpen);
    for (const d of await deploymentsWithSlas(this.deps.pg, open)) {
      try {
        const r = await this.evaluate(d, now);
        total.violated += r.violated;
        total.resolved += r.resolved;
      } catch (err) {
        this.deps.log.warn({ err, deployment_id: d.id }, 'could not evaluate the SLAs of a deployment');
      }
    }
    return total;
  }

  private async evaluate(d: SlaDeployment, now: number): Promise<{ violated: number; resolved: number }> {
    const { pg, redis, names, bus } = this.deps;
    const watched = [...new Set(d.slas.flatMap((s) => (s.type === 'freshness' ? [s.event] : [])))];
    const [facts, lastEvent, stored] = await Promise.all([
      slaRunFacts(pg, d),
      Promise.all(watched.map(async (name) => [name, await latestEvent(pg, name)] as const)).then((pairs) => new Map(pairs)),
      redis.hgetall(names.keys.slaViolations(d.id)),
    ]);
    const remembered = new Map(Object.entries(stored).flatMap(([field, json]) => {
      try {
        return [[field, JSON.parse(json) as SlaViolation] as const];
      } catch {
        return [];
      }
    }));
    const current = evaluateSlas({ ...facts, lastEvent }, now);
    const { violated, resolved } = slaTransitions(remembered, current);
    const resource = { 'reflex.resource.id': resourceId('deployment', d.id), 'reflex.resource.name': d.name };
    const eventOf = (v: SlaViolation, kind: 'violated' | 'resolved') => {
      const sla = d.slas[v.index];
      const related = [{ 'reflex.resource.id': resourceId('flow', d.flow), 'reflex.resource.role': 'flow', 'reflex.resource.name': d.flow }];
      if (v.run) related.unshift({ 'reflex.resource.id': resourceId('flow-run', v.run.id), 'reflex.resource.role': 'flow-run', 'reflex.resource.name': v.run.name });
      return systemEvent(kind === 'violated' ? EventNames.slaViolated : EventNames.slaResolved, resource, {
        id: slaEventId(d.id, v, kind),
        occurred: new Date(kind === 'violated' ? v.since : now).toISOString(),
        related,
        payload: { sla: sla ?? { type: v.type }, sla_index: v.index, since: new Date(v.since).toISOString(), detail: v.detail, flow_run_id: v.run?.id ?? null },
      });
    };
    for (const v of violated) {
      await bus.publish(eventOf(v, 'violated'));
      await redis.multi().hset(names.keys.slaViolations(d.id), v.field, JSON.stringify(v)).sadd(names.keys.slaOpen, d.id).exec();
    }
    for (const v of resolved) {
      await bus.publish(eventOf(v, 'resolved'));
      await redis.hdel(names.keys.slaViolations(d.id), v.field);
    }
    if (resolved.length && current.length === 0) await redis.srem(names.keys.slaOpen, d.id);
    return { violated: violated.length, resolved: resolved.length };
  }
}

async function latestEvent(pg: Pool, name: string): Promise<number | null> {
  const page = await queryEvents(pg, { event: [name], limit: 1 });
  const e = page.items[0];
  return e ? Date.parse(e.occurred) : null;
}

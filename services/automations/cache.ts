import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Logger } from '../../core/log.ts';
import type { Pool } from '../../infra/db.ts';
import { automationsVersion, compilePlan, listAutomations, PlanIndex, type AutomationPlan } from '../../modules/automations/index.ts';

export interface AutomationCacheDeps {
  pg: Pool;
  nats: NatsConnection;
  /** The NATS core subject of change notices. */
  changes: string;
  log: Logger;
}

/**
 * The enabled automations of this replica, compiled. Reloaded on a change notice (NATS core subject)
 * and, as a fallback for a missed notice, when the table's version changes (checked every second).
 */
export class AutomationCache {
  private current = new PlanIndex([]);
  private version = '';
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly deps: AutomationCacheDeps,
    private readonly onLoaded: (added: AutomationPlan[], index: PlanIndex) => Promise<void>,
    private readonly checkEveryMs = 1000,
  ) {}

  get index(): PlanIndex {
    return this.current;
  }

  async start(): Promise<void> {
    await this.reload();
    this.sub = this.deps.nats.subscribe(this.deps.changes, {
      callback: () => void this.reload().catch((err) => this.deps.log.error({ err }, 'automation reload failed')),
    });
    this.timer = setInterval(() => void this.check(), this.checkEveryMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.sub?.unsubscribe();
    if (this.timer) clearInterval(this.timer);
    await this.reloading?.catch(() => {});
  }

  private async check(): Promise<void> {
    try {
      if ((await automationsVersion(this.deps.pg)) !== this.version) await this.reload();
    } catch (err) {
      this.deps.log.warn({ err }, 'automation version check failed');
    }
  }

  /** Coalesces concurrent reload requests: one runs, and one more runs after it if asked meanwhile. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.again = false;
        const version = await automationsVersion(this.deps.pg);
        const automations = await listAutomations(this.deps.pg, { enabledOnly: true });
        const before = this.current.plans;
        const plans = automations.map((a) => {
          const old = before.get(a.id);
          return old && old.automation.updated === a.updated ? old : compilePlan(a);
        });
        const added = plans.filter((p) => {
          const old = before.get(p.automation.id);
          return !old || old.hash !== p.hash;
        });
        this.current = new PlanIndex(plans);
        this.version = version;
        await this.onLoaded(added, this.current);
      } while (this.again);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }
}

import type { Dependencies, DependencyName } from './deps.ts';
import type { FaultReceiver } from './receiver.ts';
import { SERVICE_PROCESSES, type ServiceProcessName, type Supervisor } from './supervisor.ts';

/** What a scenario acts on. */
export interface FaultContext {
  deps: Dependencies;
  supervisor: Supervisor;
  receiver: FaultReceiver;
}

export type ScenarioKind = 'service' | 'dependency' | 'receiver';

/**
 * One fault: injected at `faultAtSeconds` of the load, undone at `recoverAtSeconds`. For a service kill only
 * that service is restarted (by the suite, as a process manager would); for a dependency the server is
 * restarted and the services must find it again by themselves.
 */
export interface Scenario {
  name: string;
  description: string;
  kind: ScenarioKind;
  /** The process or server the fault hits (the receiver for `receiver`). */
  target: ServiceProcessName | DependencyName | 'receiver';
  faultAtSeconds: number;
  recoverAtSeconds: number;
  inject(ctx: FaultContext): Promise<void>;
  /** Undoes the fault; resolves when the target accepts work again, with that time (epoch ms). */
  recover(ctx: FaultContext): Promise<number>;
}

export const FAULT_AT_SECONDS = 10;
export const RESTART_AT_SECONDS = 13;
export const RECEIVER_OUTAGE_SECONDS = 20;

function serviceKill(name: ServiceProcessName): Scenario {
  return {
    name: `kill-${name}`,
    description: `SIGKILL of the ${name} process at t=${FAULT_AT_SECONDS} s, restarted at t=${RESTART_AT_SECONDS} s`,
    kind: 'service',
    target: name,
    faultAtSeconds: FAULT_AT_SECONDS,
    recoverAtSeconds: RESTART_AT_SECONDS,
    inject: (ctx) => ctx.supervisor.get(name).kill(),
    recover: (ctx) => ctx.supervisor.get(name).start(),
  };
}

function dependencyFault(name: DependencyName, how: 'kill' | 'immediate'): Scenario {
  const label = name === 'postgres' ? 'PostgreSQL' : name === 'nats' ? 'NATS' : 'Redis';
  return {
    name: how === 'kill' ? `kill-${name}` : 'postgres-immediate',
    description:
      how === 'kill'
        ? `SIGKILL of ${label} at t=${FAULT_AT_SECONDS} s, started again at t=${RESTART_AT_SECONDS} s; services are not restarted`
        : `PostgreSQL stopped with \`pg_ctl -m immediate\` at t=${FAULT_AT_SECONDS} s, started at t=${RESTART_AT_SECONDS} s; services are not restarted`,
    kind: 'dependency',
    target: name,
    faultAtSeconds: FAULT_AT_SECONDS,
    recoverAtSeconds: RESTART_AT_SECONDS,
    inject: (ctx) => (how === 'immediate' ? ctx.deps.postgres.stopImmediate() : ctx.deps.server(name).kill()),
    async recover(ctx) {
      await ctx.deps.server(name).start();
      return Date.now();
    },
  };
}

const receiverOutage: Scenario = {
  name: 'receiver-500',
  description: `the webhook receiver answers 500 from t=${FAULT_AT_SECONDS} s for ${RECEIVER_OUTAGE_SECONDS} s, then 204 again`,
  kind: 'receiver',
  target: 'receiver',
  faultAtSeconds: FAULT_AT_SECONDS,
  recoverAtSeconds: FAULT_AT_SECONDS + RECEIVER_OUTAGE_SECONDS,
  async inject(ctx) {
    ctx.receiver.failUntilTime(Date.now() + RECEIVER_OUTAGE_SECONDS * 1000);
  },
  // The receiver heals by itself at the end of the outage, which is when this runs.
  recover: async () => Date.now(),
};

/** Every scenario, in the order a full run takes them. */
export const SCENARIOS: Scenario[] = [
  ...SERVICE_PROCESSES.map(serviceKill),
  dependencyFault('nats', 'kill'),
  dependencyFault('redis', 'kill'),
  dependencyFault('postgres', 'kill'),
  dependencyFault('postgres', 'immediate'),
  receiverOutage,
];

export function findScenarios(names: string[]): Scenario[] {
  if (names.length === 0 || names.includes('all')) return SCENARIOS;
  return names.map((n) => {
    const s = SCENARIOS.find((x) => x.name === n);
    if (!s) throw new Error(`unknown scenario "${n}"; choose from: all, ${SCENARIOS.map((x) => x.name).join(', ')}`);
    return s;
  });
}

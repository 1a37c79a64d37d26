import type { Requester } from './errors.ts';

/** The requester an automation's action is: it answers to its id and its name. */
export function automationRequester(automation: { id: string; name?: string | null }): Requester {
  const names = [automation.id, ...(automation.name ? [automation.name] : [])];
  return { label: `automation "${automation.name ?? automation.id}" (${automation.id})`, deployments: [], work_pools: [], automations: names };
}

/** The requester a flow run is: its deployment (id and `<flow>/<name>`) and its work pool. */
export function flowRunRequester(run: { id: string; deployment?: { id: string; name: string } | null; work_pool?: string | null }): Requester {
  const parts = [
    run.deployment ? `deployment "${run.deployment.name}"` : 'no deployment',
    run.work_pool ? `work pool "${run.work_pool}"` : 'no work pool',
  ];
  return {
    label: `flow run ${run.id} (${parts.join(', ')})`,
    deployments: run.deployment ? [run.deployment.id, run.deployment.name] : [],
    work_pools: run.work_pool ? [run.work_pool] : [],
    automations: [],
  };
}

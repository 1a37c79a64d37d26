import type { FunctionComponent } from 'preact';
import { AutomationPage } from './pages/automation.tsx';
import { AutomationsPage } from './pages/automations.tsx';
import { ConcurrencyPage } from './pages/concurrency.tsx';
import { DeliveriesPage } from './pages/deliveries.tsx';
import { DeliveryPage } from './pages/delivery.tsx';
import { DeploymentPage } from './pages/deployment.tsx';
import { DeploymentsPage } from './pages/deployments.tsx';
import { EventsPage } from './pages/events.tsx';
import { NotFoundPage } from './pages/not-found.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { RunPage } from './pages/run.tsx';
import { RunsPage } from './pages/runs.tsx';
import { WorkPoolsPage } from './pages/work-pools.tsx';
// Secrets and variables (issue 13).
import { SecretsPage, VariablesPage } from './pages/secrets.tsx';

type Page = FunctionComponent<{ id?: string }>;
const TABLE: Array<[RegExp, Page, string]> = [
  [/^\/$/, OverviewPage, 'Overview'],
  [/^\/runs\/?$/, RunsPage, 'Runs'],
  [/^\/runs\/([^/]+)$/, RunPage, 'Run'],
  [/^\/deployments\/?$/, DeploymentsPage, 'Deployments'],
  [/^\/deployments\/([^/]+)$/, DeploymentPage, 'Deployment'],
  [/^\/work-pools\/?$/, WorkPoolsPage, 'Work pools'],
  [/^\/events\/?$/, EventsPage, 'Events'],
  [/^\/automations\/?$/, AutomationsPage, 'Automations'],
  [/^\/automations\/([^/]+)$/, AutomationPage, 'Automation'],
  [/^\/deliveries\/?$/, DeliveriesPage, 'Webhooks'],
  [/^\/deliveries\/([^/]+)$/, DeliveryPage, 'Delivery'],
  [/^\/concurrency\/?$/, ConcurrencyPage, 'Concurrency'],
  // Secrets and variables (issue 13).
  [/^\/variables\/?$/, VariablesPage, 'Variables'],
  [/^\/secrets\/?$/, SecretsPage, 'Secrets'],
];

export function routeFor(path: string): { Page: Page; params: { id?: string }; title: string } {
  for (const [re, Page, title] of TABLE) {
    const m = re.exec(path);
    if (m) return { Page, params: m[1] ? { id: decodeURIComponent(m[1]) } : {}, title };
  }
  return { Page: NotFoundPage, params: {}, title: 'Not found' };
}

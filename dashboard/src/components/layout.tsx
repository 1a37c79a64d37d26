import type { ComponentChildren } from 'preact';
import { liveStatus } from '../live.ts';
import { location } from '../router.ts';

const NAV: Array<[string, string]> = [
  ['/', 'Overview'],
  ['/runs', 'Runs'],
  ['/deployments', 'Deployments'],
  ['/work-pools', 'Work pools'],
  ['/events', 'Events'],
  ['/automations', 'Automations'],
  ['/deliveries', 'Webhooks'],
  ['/concurrency', 'Concurrency'],
  // Secrets and variables (issue 13).
  ['/variables', 'Variables'],
  ['/secrets', 'Secrets'],
];

const LIVE_LABEL = { connecting: 'Connecting…', live: 'Live', polling: 'Polling (live stream unavailable)' } as const;

export function Layout({ children, onSignOut }: { children: ComponentChildren; onSignOut?: () => void }) {
  const path = location.value.path;
  const current = (href: string) => (href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`));
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a href="/" class="brand">
          Reflex
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={current(href) ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class={`live live-${liveStatus.value}`} role="status">
          <span aria-hidden="true">{liveStatus.value === 'live' ? '●' : '○'}</span> {LIVE_LABEL[liveStatus.value]}
        </span>
        <a href="/api/reference" class="small">
          API reference
        </a>
        {onSignOut && (
          <button type="button" class="link" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

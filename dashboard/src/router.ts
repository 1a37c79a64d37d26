import { signal } from '@preact/signals';

/**
 * Client-side routing on the History API: every page has a bookmarkable URL, and its filters live in the
 * query string, so reloading or sharing a URL shows the same view.
 */
export const location = signal({ path: window.location.pathname, search: window.location.search });

window.addEventListener('popstate', () => {
  location.value = { path: window.location.pathname, search: window.location.search };
});

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  const url = new URL(to, window.location.origin);
  location.value = { path: url.pathname, search: url.search };
  if (!replace) window.scrollTo(0, 0);
}

/** The current query string as an object of strings. */
export function queryParams(): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(location.value.search));
}

/** Changes some query parameters (empty values are removed), replacing the history entry. */
export function setQuery(patch: Record<string, string | undefined>): void {
  const qs = new URLSearchParams(location.value.search);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === '') qs.delete(k);
    else qs.set(k, v);
  }
  const s = qs.toString();
  navigate(`${location.value.path}${s ? `?${s}` : ''}`, true);
}

/** Intercepts plain left clicks on same-origin links so navigation stays in the page. */
export function interceptLinks(): void {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.startsWith('/api/')) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
}

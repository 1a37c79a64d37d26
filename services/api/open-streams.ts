import type { ServerResponse } from 'node:http';
import type { ApiApp } from './route-module.ts';

/**
 * The open responses of a streaming route (Server-Sent Events), closed when the server closes: an open
 * stream would keep it from closing, and one whose client stopped reading would keep it waiting for its
 * buffer to drain, so those are destroyed. A route adds each response it holds and deletes it when done.
 */
export function openStreams(app: ApiApp): Set<ServerResponse> {
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) {
      if (res.writableLength > 0) res.destroy();
      else res.end();
    }
  });
  return open;
}

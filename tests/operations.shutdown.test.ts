import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../core/config.ts';
import { JOBS } from '../core/jobs.ts';
import { createLogger } from '../core/log.ts';
import { openRuntime } from '../infra/runtime.ts';
import { createApiService } from '../services/api/main.ts';
import { createModules } from '../services/modules.ts';
import { testNamespace } from './support/harness.ts';

/**
 * What a failed start leaves behind. Closing the runtime just after a BullMQ queue was made (its INFO
 * check still in flight) killed the process with an unhandled "Connection is closed." from BullMQ: the
 * stack users saw when the port was taken. And the API's own listen failing (a port taken after the
 * start-up check) is the same one-line PortInUseError.
 */
describe('a failed start shuts down cleanly', () => {
  it('closing the runtime while a queue is still starting raises nothing', async () => {
    const rt = await openRuntime(loadConfig(process.env, { namespace: testNamespace('shut') }), createLogger({ level: 'silent' }), { prepare: false });
    const unhandled: unknown[] = [];
    const onError = (err: unknown) => unhandled.push(err);
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    try {
      const queues = Array.from({ length: 5 }, (_, i) => rt.queues.queue(JOBS.flowRun, `pool-${i}`));
      // A worker's own connection is still connecting when a failed start stops it.
      const workers = Array.from({ length: 3 }, (_, i) => rt.queues.worker(JOBS.flowRun, [`pool-${i}`], async () => undefined, { connectionName: `shut-${i}`, autorun: false }));
      await Promise.all(workers.map((w) => w.close()));
      await rt.close();
      // Each queue's start-up check has settled (failed, as the connection is gone) by the time these do.
      await Promise.allSettled(queues.map((q) => q.waitUntilReady()));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled.map(String), []);
    } finally {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    }
  });

  it("the API's listen on a taken port fails with PortInUseError naming the address", async () => {
    const holder = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const port = (holder.address() as { port: number }).port;
    const rt = await openRuntime(loadConfig(process.env, { namespace: testNamespace('shut'), port, automationsDir: '', dashboard: false }), createLogger({ level: 'silent' }), { prepare: false });
    try {
      const api = createApiService(rt, createModules(rt));
      await assert.rejects(api.start(), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'port_in_use');
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}: the address is already in use.*REFLEX_PORT`));
        return true;
      });
      await api.stop();
    } finally {
      await rt.close();
      holder.close();
    }
  });
});

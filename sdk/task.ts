import { resolveOptions, type RunOptions } from './definition.ts';
import { SdkUsageError } from './errors.ts';
import { MappedFutures, TaskFuture } from './futures.ts';
import { runContext } from './context.ts';
import { callTask, type TaskDefinition } from './task-runner.ts';
import { resolveHooks, TASK_HOOK_KINDS, type TaskHook, type TaskHookKind, type TaskHooks } from './hooks.ts';

export interface TaskOptions<A extends unknown[]> extends RunOptions, TaskHooks {
  /**
   * Reuse a COMPLETED result instead of running again: `'inputs'` hashes the arguments, a function
   * returns the key from them. Keys are scoped to the task name. Default: no caching.
   */
  cacheKey?: 'inputs' | ((...args: A) => string);
  /** How long a cached result is reused (default: forever). */
  cacheExpirationSeconds?: number;
}

/** One list per task argument: `add.map([1, 2], [10, 20])` runs add(1, 10) and add(2, 20). */
export type MapInputs<A extends unknown[]> = { [K in keyof A]: readonly A[K][] };

/** A task: call it like the function it wraps (inside a flow, each call is a recorded task run). */
export interface Task<A extends unknown[], R> {
  (...args: A): Promise<R>;
  /** Starts the task concurrently; the future is awaitable (or `.result()`). */
  submit(...args: A): TaskFuture<R>;
  /** Fans out: one concurrent task run per position of the input lists. */
  map(...inputs: MapInputs<A>): MappedFutures<R>;
  readonly taskName: string;
}

export function task<A extends unknown[], R>(options: TaskOptions<A>, fn: (...args: A) => Promise<R>): Task<A, R> {
  if (typeof fn !== 'function') throw new SdkUsageError('task(options, fn): the second argument must be an async function');
  const resolved = resolveOptions('task', options, fn);
  const { cacheKey, cacheExpirationSeconds } = options;
  if (cacheKey !== undefined && cacheKey !== 'inputs' && typeof cacheKey !== 'function') {
    throw new SdkUsageError(`task("${resolved.name}"): cacheKey must be 'inputs' or a function of the task's arguments returning a string`);
  }
  if (cacheExpirationSeconds !== undefined && (!Number.isFinite(cacheExpirationSeconds) || cacheExpirationSeconds <= 0)) {
    throw new SdkUsageError(`task("${resolved.name}"): cacheExpirationSeconds must be > 0`);
  }
  const definition: TaskDefinition = {
    options: resolved,
    cacheKey: cacheKey as TaskDefinition['cacheKey'],
    cacheExpirationSeconds,
    fn: fn as unknown as (...args: never[]) => Promise<unknown>,
    hooks: resolveHooks<TaskHookKind, TaskHook>(`task("${resolved.name}")`, TASK_HOOK_KINDS, options),
  };
  const call = (...args: A) => callTask(definition, args) as Promise<R>;
  const submit = (...args: A): TaskFuture<R> => {
    const future = new TaskFuture(call(...args));
    // A successful flow run waits for the tasks it submitted, even ones it never awaited.
    const futures = runContext.getStore()?.flow?.futures;
    if (futures) {
      const done: Promise<unknown> = future.wait().finally(() => futures.delete(done));
      futures.add(done);
    }
    return future;
  };
  const map = (...inputs: MapInputs<A>): MappedFutures<R> => {
    const lists = inputs as readonly (readonly unknown[])[];
    if (lists.length === 0) throw new SdkUsageError(`${resolved.name}.map(): pass one list per argument, e.g. ${resolved.name}.map([1, 2, 3])`);
    if (lists.some((l) => !Array.isArray(l))) throw new SdkUsageError(`${resolved.name}.map(): every argument must be a list`);
    const length = lists[0].length;
    if (lists.some((l) => l.length !== length)) {
      throw new SdkUsageError(`${resolved.name}.map(): the lists have different lengths (${lists.map((l) => l.length).join(', ')})`);
    }
    return new MappedFutures(Array.from({ length }, (_, i) => submit(...(lists.map((l) => l[i]) as A))));
  };
  return Object.defineProperties(call, {
    name: { value: resolved.name },
    taskName: { value: resolved.name, enumerable: true },
    submit: { value: submit },
    map: { value: map },
  }) as Task<A, R>;
}

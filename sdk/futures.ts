/**
 * Handles on tasks started with `task.submit()` / `task.map()`. A future is awaitable; a failure that
 * nobody awaits is not an unhandled rejection (the task run records it as FAILED anyway).
 */
export class TaskFuture<R> implements PromiseLike<R> {
  private settled: 'pending' | 'completed' | 'failed' = 'pending';

  constructor(private readonly promise: Promise<R>) {
    promise.then(
      () => (this.settled = 'completed'),
      () => (this.settled = 'failed'),
    );
  }

  /** The task's return value; rejects with the task's error. */
  result(): Promise<R> {
    return this.promise;
  }

  /** Resolves when the task has finished, whatever its outcome. */
  async wait(): Promise<void> {
    await this.promise.catch(() => {});
  }

  get state(): 'pending' | 'completed' | 'failed' {
    return this.settled;
  }

  then<T1 = R, T2 = never>(onFulfilled?: ((value: R) => T1 | PromiseLike<T1>) | null, onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null): Promise<T1 | T2> {
    return this.promise.then(onFulfilled, onRejected);
  }
}

/** The futures of one `task.map()`: `await` it (or `.result()`) for every result in input order. */
export class MappedFutures<R> implements PromiseLike<R[]>, Iterable<TaskFuture<R>> {
  constructor(readonly futures: readonly TaskFuture<R>[]) {}

  get length(): number {
    return this.futures.length;
  }

  /** Every result in input order; rejects with the first failure (the other tasks still run to the end). */
  result(): Promise<R[]> {
    return Promise.all(this.futures.map((f) => f.result()));
  }

  /** Waits for every task and reports each outcome, like Promise.allSettled. */
  settled(): Promise<PromiseSettledResult<R>[]> {
    return Promise.allSettled(this.futures.map((f) => f.result()));
  }

  then<T1 = R[], T2 = never>(onFulfilled?: ((value: R[]) => T1 | PromiseLike<T1>) | null, onRejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null): Promise<T1 | T2> {
    return this.result().then(onFulfilled, onRejected);
  }

  [Symbol.iterator](): Iterator<TaskFuture<R>> {
    return this.futures[Symbol.iterator]();
  }
}

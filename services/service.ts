/** A deployable unit of Reflex: `reflex start <name>` runs one, `reflex start` runs them all. */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  /** Stops taking new work, finishes or hands back what is in flight, then returns. */
  stop(): Promise<void>;
  /** One line printed at start-up saying what the service loaded or where it listens. */
  describe?(): string;
}

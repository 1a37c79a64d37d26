-- Up Migration
-- What a flow run waits for (issue 13): input to resume a pause or a suspension, or an event. Owned by
-- modules/waits. One row per wait call site of a run (`pause-0`, `event-1`), so a suspended run that starts
-- again from the top finds the answer of the waits it already passed. `resolved_at` is set once, by whoever
-- resolves the wait first (the resume, the timeout, the matching event): that single UPDATE decides a race.
CREATE TABLE flow_run_waits (
  flow_run_id uuid NOT NULL,
  wait_key text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('pause', 'suspend', 'event')),
  spec jsonb NOT NULL,
  timeout_at timestamptz,
  outcome text CHECK (outcome IN ('resumed', 'timed_out', 'matched')),
  result jsonb,
  resolved_at timestamptz,
  created timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (flow_run_id, wait_key)
);
CREATE INDEX flow_run_waits_open_idx ON flow_run_waits (timeout_at) WHERE resolved_at IS NULL;

-- Down Migration
DROP TABLE flow_run_waits;

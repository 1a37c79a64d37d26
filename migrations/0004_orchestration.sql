-- Up Migration
CREATE TABLE work_pools (
  name text PRIMARY KEY,
  description text,
  concurrency_limit integer,
  paused boolean NOT NULL DEFAULT false,
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deployments (
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  flow_name text NOT NULL,
  description text,
  parameters jsonb NOT NULL DEFAULT '{}',
  parameter_schema jsonb,
  work_pool text NOT NULL,
  schedules jsonb NOT NULL DEFAULT '[]',
  tags text[] NOT NULL DEFAULT '{}',
  concurrency_limit integer,
  paused boolean NOT NULL DEFAULT false,
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now()
);

-- The current state is denormalised onto the run row so reads and transition checks need one row.
CREATE TABLE flow_runs (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  flow_name text NOT NULL,
  deployment_id uuid,
  work_pool text,
  parent_task_run_id uuid,
  parent_flow_run_id uuid,
  parameters jsonb NOT NULL DEFAULT '{}',
  tags text[] NOT NULL DEFAULT '{}',
  state_type text NOT NULL,
  state_name text NOT NULL,
  state_timestamp timestamptz NOT NULL,
  state_message text,
  state_scheduled_time timestamptz,
  run_count integer NOT NULL DEFAULT 0,
  expected_start_time timestamptz,
  start_time timestamptz,
  end_time timestamptz,
  total_run_time_seconds double precision NOT NULL DEFAULT 0,
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now(),
  result jsonb,
  idempotency_key text
);
-- One run per idempotency key: the scheduler's key is (deployment, start time), so replicas never duplicate.
CREATE UNIQUE INDEX flow_runs_idempotency_idx ON flow_runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX flow_runs_deployment_idx ON flow_runs (deployment_id, id DESC);
CREATE INDEX flow_runs_flow_name_idx ON flow_runs (flow_name, id DESC);
CREATE INDEX flow_runs_state_idx ON flow_runs (state_type, id DESC);
CREATE INDEX flow_runs_scheduled_idx ON flow_runs (state_scheduled_time) WHERE state_type = 'SCHEDULED';
CREATE INDEX flow_runs_tags_idx ON flow_runs USING gin (tags);

CREATE TABLE flow_run_states (
  id uuid PRIMARY KEY,
  flow_run_id uuid NOT NULL REFERENCES flow_runs (id) ON DELETE CASCADE,
  type text NOT NULL,
  name text NOT NULL,
  timestamp timestamptz NOT NULL,
  message text,
  scheduled_time timestamptz
);
CREATE INDEX flow_run_states_run_idx ON flow_run_states (flow_run_id, id);

CREATE TABLE task_runs (
  id uuid PRIMARY KEY,
  flow_run_id uuid REFERENCES flow_runs (id) ON DELETE CASCADE,
  task_name text NOT NULL,
  dynamic_key text NOT NULL,
  cache_key text,
  cache_expiration timestamptz,
  parameters jsonb NOT NULL DEFAULT '{}',
  tags text[] NOT NULL DEFAULT '{}',
  state_type text NOT NULL,
  state_name text NOT NULL,
  state_timestamp timestamptz NOT NULL,
  state_message text,
  state_scheduled_time timestamptz,
  run_count integer NOT NULL DEFAULT 0,
  start_time timestamptz,
  end_time timestamptz,
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now(),
  result jsonb
);
CREATE INDEX task_runs_flow_run_idx ON task_runs (flow_run_id, id);
CREATE INDEX task_runs_cache_idx ON task_runs (cache_key, end_time DESC) WHERE cache_key IS NOT NULL AND state_type = 'COMPLETED';

CREATE TABLE task_run_states (
  id uuid PRIMARY KEY,
  task_run_id uuid NOT NULL REFERENCES task_runs (id) ON DELETE CASCADE,
  type text NOT NULL,
  name text NOT NULL,
  timestamp timestamptz NOT NULL,
  message text,
  scheduled_time timestamptz
);
CREATE INDEX task_run_states_run_idx ON task_run_states (task_run_id, id);

-- No foreign key: a script's logs may arrive before (or without) its run row being visible.
CREATE TABLE logs (
  id bigserial PRIMARY KEY,
  flow_run_id uuid NOT NULL,
  task_run_id uuid,
  level integer NOT NULL,
  message text NOT NULL,
  timestamp timestamptz NOT NULL,
  fields jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX logs_flow_run_idx ON logs (flow_run_id, id);

-- Events waiting to be published; written in the same transaction as the state they describe.
-- `seq` is the publish order; `id` is the event id (JetStream's msgID), so a republish is dropped.
CREATE TABLE outbox (
  seq bigserial PRIMARY KEY,
  id uuid NOT NULL UNIQUE,
  run_id uuid NOT NULL,
  event jsonb NOT NULL,
  created timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE outbox;
DROP TABLE logs;
DROP TABLE task_run_states;
DROP TABLE task_runs;
DROP TABLE flow_run_states;
DROP TABLE flow_runs;
DROP TABLE deployments;
DROP TABLE work_pools;

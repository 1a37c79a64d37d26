-- Up Migration
CREATE TABLE webhook_deliveries (
  id text PRIMARY KEY,
  idempotency_key text NOT NULL,
  automation_id text,
  firing_id text,
  event_id text,
  url text NOT NULL,
  method text NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  body text NOT NULL,
  -- Kept to sign replays; never returned by the API, logged or put in events.
  secret text,
  format text NOT NULL DEFAULT 'json',
  timeout_seconds double precision NOT NULL,
  retry jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  -- A replay starts a new series of attempts.
  series integer NOT NULL DEFAULT 1,
  attempt_count integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error text,
  next_attempt_at timestamptz,
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created DESC, id DESC);
CREATE INDEX webhook_deliveries_automation_idx ON webhook_deliveries (automation_id, created DESC);

CREATE TABLE webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  series integer NOT NULL,
  attempt integer NOT NULL,
  started timestamptz NOT NULL,
  status_code integer,
  latency_ms double precision NOT NULL,
  response_headers jsonb,
  response_body text,
  error text,
  outcome text NOT NULL,
  UNIQUE (delivery_id, series, attempt)
);

-- Down Migration
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;

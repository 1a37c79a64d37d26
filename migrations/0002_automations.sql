-- Up Migration
CREATE TABLE automations (
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  enabled boolean NOT NULL DEFAULT true,
  -- The validated document with defaults filled in (trigger, actions, description, tags...).
  document jsonb NOT NULL,
  created timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- One row per firing; firing_key is deterministic (automation, trigger, bucket, window), so a replayed
-- event or two replicas racing insert it once.
CREATE TABLE automation_firings (
  id uuid PRIMARY KEY,
  firing_key text NOT NULL UNIQUE,
  automation_id uuid NOT NULL,
  state text NOT NULL CHECK (state IN ('triggered', 'resolved')),
  fired_at timestamptz NOT NULL,
  trigger_path text NOT NULL,
  bucket_key text NOT NULL,
  triggering_labels jsonb NOT NULL DEFAULT '{}',
  triggering_event jsonb,
  count integer NOT NULL DEFAULT 0,
  window_start timestamptz,
  window_end timestamptz,
  -- [{index, type, status: pending|executed|failed, reason, detail, updated}]
  actions jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX automation_firings_automation_idx ON automation_firings (automation_id, fired_at DESC, id DESC);

-- Down Migration
DROP TABLE automation_firings;
DROP TABLE automations;

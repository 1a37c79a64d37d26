-- Up Migration
CREATE TABLE events (
  id uuid PRIMARY KEY,
  occurred timestamptz NOT NULL,
  received timestamptz NOT NULL DEFAULT now(),
  event text NOT NULL,
  resource_id text NOT NULL,
  resource jsonb NOT NULL,
  related jsonb NOT NULL DEFAULT '[]',
  payload jsonb NOT NULL DEFAULT '{}',
  follows uuid
);
-- Newest-first pagination is (occurred DESC, id DESC); the cursor carries both.
CREATE INDEX events_occurred_idx ON events (occurred DESC, id DESC);
CREATE INDEX events_event_idx ON events (event text_pattern_ops, occurred DESC);
CREATE INDEX events_resource_id_idx ON events (resource_id text_pattern_ops, occurred DESC);
CREATE INDEX events_resource_gin ON events USING gin (resource jsonb_path_ops);
CREATE INDEX events_related_gin ON events USING gin (related jsonb_path_ops);

-- Down Migration
DROP TABLE events;

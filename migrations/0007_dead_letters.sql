-- Up Migration
-- Messages a consumer could not apply however often it tried (an event PostgreSQL refuses, bytes that are
-- not an event). Kept as the exact bytes (bytea holds anything), acknowledged on the stream so they never
-- block the consumer, visible and replayable through /api/dead-letters.
CREATE TABLE dead_letters (
  id uuid PRIMARY KEY,
  consumer text NOT NULL,
  subject text NOT NULL,
  stream_seq bigint NOT NULL,
  data bytea NOT NULL,
  reason text NOT NULL,
  error_code text,
  received timestamptz NOT NULL DEFAULT now(),
  replayed_at timestamptz,
  replay_count integer NOT NULL DEFAULT 0,
  last_replay_error text
);
CREATE INDEX dead_letters_received_idx ON dead_letters (received DESC, id DESC);

-- Down Migration
DROP TABLE dead_letters;

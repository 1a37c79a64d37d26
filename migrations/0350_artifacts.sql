-- Up Migration
-- Artifacts (issue 13): what a run shows people (a table, markdown, a link, its progress). Owned by
-- modules/artifacts. A key makes an artifact versioned: every create with the key adds a row, the newest
-- (created, id) is the current one. No foreign keys to the runs: a task run's row is written in a batch
-- after its body may already have created an artifact, and artifacts outlive a run's deletion as history.
CREATE TABLE artifacts (
  id uuid PRIMARY KEY,
  key text,
  type text NOT NULL CHECK (type IN ('table', 'markdown', 'link', 'progress')),
  description text,
  data jsonb NOT NULL,
  flow_run_id uuid,
  task_run_id uuid,
  created timestamptz NOT NULL DEFAULT now(),
  updated timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX artifacts_key_created_idx ON artifacts (key, created DESC, id DESC) WHERE key IS NOT NULL;
CREATE INDEX artifacts_flow_run_idx ON artifacts (flow_run_id, created DESC, id DESC) WHERE flow_run_id IS NOT NULL;
CREATE INDEX artifacts_created_idx ON artifacts (created DESC, id DESC);

-- Down Migration
DROP TABLE artifacts;

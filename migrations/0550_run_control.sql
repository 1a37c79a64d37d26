-- Up Migration
-- Run control of deployments (issue 15): concurrency keys with collision strategies, run priority and SLAs.
-- A deployment's declarations are documents (validated by schemas/deployment.ts); a run keeps the priority
-- and the concurrency key it was created with, so a retry or a re-queued attempt is ordered and gated the same.
ALTER TABLE deployments ADD COLUMN concurrency jsonb;
ALTER TABLE deployments ADD COLUMN priority integer NOT NULL DEFAULT 0;
ALTER TABLE deployments ADD COLUMN slas jsonb NOT NULL DEFAULT '[]';
ALTER TABLE flow_runs ADD COLUMN priority integer NOT NULL DEFAULT 0;
ALTER TABLE flow_runs ADD COLUMN concurrency_key text;

-- SLA evaluation reads a deployment's runs of a recent range by state.
CREATE INDEX flow_runs_deployment_state_idx ON flow_runs (deployment_id, state_type, end_time DESC);

-- Down Migration
DROP INDEX flow_runs_deployment_state_idx;
ALTER TABLE flow_runs DROP COLUMN concurrency_key;
ALTER TABLE flow_runs DROP COLUMN priority;
ALTER TABLE deployments DROP COLUMN slas;
ALTER TABLE deployments DROP COLUMN priority;
ALTER TABLE deployments DROP COLUMN concurrency;

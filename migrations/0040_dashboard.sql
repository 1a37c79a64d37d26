-- Up Migration
-- What started a run when an automation did: {automation_id, firing_id, event_id}. Schedules and manual
-- calls are told apart by the idempotency key and the parent run, so only this needs storing.
ALTER TABLE flow_runs ADD COLUMN triggered_by jsonb;

-- The dashboard's run list and activity chart read runs of a time range, newest first, keyset on
-- (created, id); each filter it offers gets an index in that order so a page never sorts the whole range.
CREATE INDEX flow_runs_created_idx ON flow_runs (created DESC, id DESC);
CREATE INDEX flow_runs_state_created_idx ON flow_runs (state_type, created DESC, id DESC);
CREATE INDEX flow_runs_state_name_created_idx ON flow_runs (state_name, created DESC, id DESC);
CREATE INDEX flow_runs_flow_created_idx ON flow_runs (flow_name, created DESC, id DESC);
CREATE INDEX flow_runs_deployment_created_idx ON flow_runs (deployment_id, created DESC, id DESC);
CREATE INDEX flow_runs_pool_created_idx ON flow_runs (work_pool, created DESC, id DESC);

-- Overview: failing automations and receivers of a time range.
CREATE INDEX automation_firings_fired_idx ON automation_firings (fired_at DESC);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (status, created DESC, id DESC);
CREATE INDEX webhook_failed_requests_received_idx ON webhook_failed_requests (received DESC);

-- Down Migration
DROP INDEX webhook_failed_requests_received_idx;
DROP INDEX webhook_deliveries_status_idx;
DROP INDEX automation_firings_fired_idx;
DROP INDEX flow_runs_pool_created_idx;
DROP INDEX flow_runs_deployment_created_idx;
DROP INDEX flow_runs_flow_created_idx;
DROP INDEX flow_runs_state_name_created_idx;
DROP INDEX flow_runs_state_created_idx;
DROP INDEX flow_runs_created_idx;
ALTER TABLE flow_runs DROP COLUMN triggered_by;

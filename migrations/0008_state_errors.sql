-- Up Migration
-- What a failed (or retried) run's error was, as a structured object: {name, message, code, stack}. The
-- state's message keeps the one-line description; the error keeps what a person debugging needs.
ALTER TABLE flow_runs ADD COLUMN state_error jsonb;
ALTER TABLE task_runs ADD COLUMN state_error jsonb;
ALTER TABLE flow_run_states ADD COLUMN error jsonb;
ALTER TABLE task_run_states ADD COLUMN error jsonb;

-- Down Migration
ALTER TABLE task_run_states DROP COLUMN error;
ALTER TABLE flow_run_states DROP COLUMN error;
ALTER TABLE task_runs DROP COLUMN state_error;
ALTER TABLE flow_runs DROP COLUMN state_error;

-- Up Migration
-- onCrashed hooks (issue 13): every worker that knows a flow with onCrashed hooks looks for its runs'
-- recent CRASHED states whose hooks have not run, so the hooks run whichever sweeper marked the crash.
CREATE INDEX flow_run_states_crashed_idx ON flow_run_states (timestamp) WHERE type = 'CRASHED';

-- Down Migration
DROP INDEX flow_run_states_crashed_idx;

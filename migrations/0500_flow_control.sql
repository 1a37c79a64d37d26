-- Up Migration
-- Flow control (debounce, throttle, rate limit, batch): a firing flow control dropped is recorded as
-- `rate-limited` (it runs no actions), and every gated firing keeps what flow control did with it.
ALTER TABLE automation_firings DROP CONSTRAINT automation_firings_state_check;
ALTER TABLE automation_firings ADD CONSTRAINT automation_firings_state_check CHECK (state IN ('triggered', 'resolved', 'rate-limited'));
ALTER TABLE automation_firings ADD COLUMN flow_control jsonb;

-- Down Migration
ALTER TABLE automation_firings DROP COLUMN flow_control;
DELETE FROM automation_firings WHERE state = 'rate-limited';
ALTER TABLE automation_firings DROP CONSTRAINT automation_firings_state_check;
ALTER TABLE automation_firings ADD CONSTRAINT automation_firings_state_check CHECK (state IN ('triggered', 'resolved'));

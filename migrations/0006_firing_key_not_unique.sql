-- Up Migration
-- A firing's id is derived from its key, so the primary key already makes keys unique. With a second
-- unique index, two concurrent inserts of the same firing (the dispatcher's record and an action's outcome)
-- could fail on the index their ON CONFLICT does not name; with one, ON CONFLICT (id) always resolves them.
ALTER TABLE automation_firings DROP CONSTRAINT automation_firings_firing_key_key;

-- Down Migration
ALTER TABLE automation_firings ADD CONSTRAINT automation_firings_firing_key_key UNIQUE (firing_key);

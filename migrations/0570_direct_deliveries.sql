-- Up Migration
-- Direct deliveries (issue 12): the automations service makes a delivery's first attempt itself when its
-- host is healthy, instead of handing it to the webhook service through the queue. The row it writes
-- before sending claims the delivery until `claimed_until`; a delivery still claimed past that time (its
-- process died mid-attempt, or could not queue the retry) is queued by the webhook service's sweeper.
-- `chain` keeps the automations chain for the outcome events of a delivery the sweeper queues.
ALTER TABLE webhook_deliveries ADD COLUMN claimed_until timestamptz, ADD COLUMN chain jsonb;
CREATE INDEX webhook_deliveries_claimed_idx ON webhook_deliveries (claimed_until) WHERE claimed_until IS NOT NULL;

-- Down Migration
DROP INDEX webhook_deliveries_claimed_idx;
ALTER TABLE webhook_deliveries DROP COLUMN claimed_until, DROP COLUMN chain;

-- Up Migration
CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  -- The unguessable part of the receiver URL /hooks/<slug>; it is the endpoint's only credential when
  -- no secret is set.
  slug text NOT NULL UNIQUE,
  template text,
  -- Verifies senders; never returned by the API, logged or put in events.
  secret text,
  verification text NOT NULL DEFAULT 'none' CHECK (verification IN ('none', 'standard-webhooks', 'github')),
  created timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_failed_requests (
  id uuid PRIMARY KEY,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  received timestamptz NOT NULL DEFAULT now(),
  method text NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  query jsonb NOT NULL DEFAULT '{}',
  body text NOT NULL,
  reason text NOT NULL
);
CREATE INDEX webhook_failed_requests_endpoint_idx ON webhook_failed_requests (endpoint_id, received DESC, id DESC);

-- Down Migration
DROP TABLE webhook_failed_requests;
DROP TABLE webhook_endpoints;

-- Up Migration
-- Secrets (owner: modules/secrets). `sealed` is AES-256-GCM: a 12-byte IV, the 16-byte tag, then the
-- ciphertext, with the name as additional data (a value copied under another name does not decrypt).
-- `key_id` names the key that sealed it, so a rotation knows what to re-encrypt. The value is never
-- stored in plain anywhere.
CREATE TABLE secrets (
  name text PRIMARY KEY,
  sealed bytea NOT NULL,
  key_id text NOT NULL,
  description text,
  -- {deployments: [], work_pools: [], automations: []}: ids or names of who may use it.
  allowed jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);

-- Variables (owner: modules/variables): named JSON values for configuration.
CREATE TABLE variables (
  name text PRIMARY KEY,
  value jsonb NOT NULL,
  tags text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A delivery whose URL, headers, body or signing secret name secrets holds markers, not values; the
-- nonce that makes its markers unforgeable is kept so a replay resolves them again (modules/webhooks).
ALTER TABLE webhook_deliveries ADD COLUMN secret_refs jsonb;

-- Down Migration
ALTER TABLE webhook_deliveries DROP COLUMN secret_refs;
DROP TABLE variables;
DROP TABLE secrets;

-- Per-tenant key material, each key wrapped (AES-256-GCM) by the master key from configuration.
CREATE TYPE tenant_key_purpose AS ENUM ('data', 'blind_index', 'card_signing');

CREATE TABLE tenant_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  purpose tenant_key_purpose NOT NULL,
  wrapped_key bytea NOT NULL,
  public_key bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);
CREATE UNIQUE INDEX tenant_keys_one_current ON tenant_keys (tenant_id, purpose) WHERE retired_at IS NULL;
SELECT isolate_tenant_table('tenant_keys');
GRANT SELECT, INSERT ON tenant_keys TO sadasya_app;
GRANT UPDATE (retired_at) ON tenant_keys TO sadasya_app;

CREATE TYPE user_role AS ENUM ('tenant_admin', 'treasurer', 'registrar', 'ops');

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  email text NOT NULL CHECK (email = lower(email) AND position('@' IN email) > 1),
  display_name text NOT NULL,
  password_hash text NOT NULL CHECK (password_hash LIKE '$argon2%'),
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, email),
  UNIQUE (tenant_id, id)
);
SELECT isolate_tenant_table('users');
GRANT SELECT, INSERT, UPDATE (display_name, password_hash, is_active) ON users TO sadasya_app;

CREATE TABLE user_roles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL,
  role user_role NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
  CHECK (revoked_at IS NULL OR revoked_at >= granted_at)
);
CREATE UNIQUE INDEX user_roles_one_current ON user_roles (user_id, role) WHERE revoked_at IS NULL;
SELECT isolate_tenant_table('user_roles');
GRANT SELECT, INSERT ON user_roles TO sadasya_app;
GRANT UPDATE (revoked_at) ON user_roles TO sadasya_app;

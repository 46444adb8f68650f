-- A committee sits on one geography node; its parent committee is the committee of the
-- nearest ancestor node, so it is derived from the geography, never stored twice.
CREATE TABLE committees (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  geography_id uuid NOT NULL REFERENCES geography_nodes (id),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  dissolved_at timestamptz,
  UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX committees_one_per_node ON committees (tenant_id, geography_id) WHERE dissolved_at IS NULL;
SELECT isolate_tenant_table('committees');
GRANT SELECT, INSERT ON committees TO sadasya_app;
GRANT UPDATE (name, dissolved_at) ON committees TO sadasya_app;

CREATE TYPE committee_role AS ENUM ('head', 'secretary', 'member');

-- Roles are never deleted: ending one sets valid_to, so the history stays.
CREATE TABLE committee_roles (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  committee_id uuid NOT NULL,
  user_id uuid NOT NULL,
  role committee_role NOT NULL,
  valid_from timestamptz NOT NULL DEFAULT now(),
  valid_to timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, committee_id) REFERENCES committees (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
  CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX committee_roles_user ON committee_roles (tenant_id, user_id, role);
CREATE UNIQUE INDEX committee_roles_one_open_head ON committee_roles (committee_id) WHERE role = 'head' AND valid_to IS NULL;
SELECT isolate_tenant_table('committee_roles');
GRANT SELECT, INSERT ON committee_roles TO sadasya_app;
GRANT UPDATE (valid_to) ON committee_roles TO sadasya_app;

-- The committee that covers a node: the one on the nearest ancestor-or-self node.
CREATE FUNCTION covering_committee(node uuid) RETURNS uuid
  LANGUAGE sql STABLE
  AS $$
  SELECT c.id
  FROM geography_closure gc
  JOIN committees c ON c.geography_id = gc.ancestor_id AND c.dissolved_at IS NULL
  WHERE gc.descendant_id = node
  ORDER BY gc.depth
  LIMIT 1
$$;
GRANT EXECUTE ON FUNCTION covering_committee(uuid) TO sadasya_app;

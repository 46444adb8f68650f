-- Landlord reference data shared by every tenant: Nepal's (or any country's) hierarchy.
-- Only the owner role (the import command) writes it; the application reads it.
CREATE TYPE geography_type AS ENUM ('province', 'district', 'local_level', 'ward');
CREATE TYPE local_level_category AS ENUM ('metropolitan', 'sub_metropolitan', 'municipality', 'rural_municipality');

CREATE TABLE geography_nodes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_]+$'),
  parent_id uuid REFERENCES geography_nodes (id),
  type geography_type NOT NULL,
  category local_level_category,
  path ltree NOT NULL UNIQUE,
  name_en text NOT NULL,
  name_ne text,
  ward_number integer CHECK (ward_number > 0),
  is_active boolean NOT NULL DEFAULT true,
  valid_from date NOT NULL DEFAULT DATE '2017-03-10',
  valid_to date,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  CHECK ((type = 'local_level') = (category IS NOT NULL)),
  CHECK ((type = 'ward') = (ward_number IS NOT NULL)),
  CHECK ((type = 'province') = (parent_id IS NULL)),
  CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX geography_nodes_path_gist ON geography_nodes USING gist (path);
CREATE INDEX geography_nodes_parent ON geography_nodes (parent_id);
CREATE INDEX geography_nodes_name_en_trgm ON geography_nodes USING gin (name_en gin_trgm_ops);

CREATE TABLE geography_closure (
  ancestor_id uuid NOT NULL REFERENCES geography_nodes (id),
  descendant_id uuid NOT NULL REFERENCES geography_nodes (id),
  depth integer NOT NULL CHECK (depth >= 0),
  PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX geography_closure_descendant ON geography_closure (descendant_id, depth);

GRANT SELECT ON geography_nodes, geography_closure TO sadasya_app;

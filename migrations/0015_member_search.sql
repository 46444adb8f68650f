-- Member search at a million members per party: every filter the API offers walks an index
-- in the page's order (newest first) and stops after one page. docs/search.md has the plans.
--
-- Under row-level security a filter can only become an index condition when its operator is
-- LEAKPROOF; otherwise Postgres must apply the tenant policy to every row first. uuid, text,
-- bytea and timestamptz comparisons are leakproof; ltree, enum and ILIKE operators are not.
-- So the geography subtree filters compare plain text keys of the member's path (generated
-- from it, so they can never disagree with it), the ward filter compares ward_id, and the
-- keyset cursor is spelled with timestamptz and uuid comparisons instead of a row comparison.
-- Status (enum) and name (ILIKE, trigram) filters rely on the database bootstrap marking
-- enum_eq and texticlike LEAKPROOF (src/db/bootstrap.ts explains why that is sound); without
-- it they stay correct and become slow.

-- The first three levels of the ward's path: province, district, local level.
-- least() keeps a shallower path valid; its keys then never equal a deeper node's path.
ALTER TABLE members
  ADD COLUMN province_key text GENERATED ALWAYS AS (subpath(geography_path, 0, least(nlevel(geography_path), 1))::text) STORED,
  ADD COLUMN district_key text GENERATED ALWAYS AS (subpath(geography_path, 0, least(nlevel(geography_path), 2))::text) STORED,
  ADD COLUMN local_level_key text GENERATED ALWAYS AS (subpath(geography_path, 0, least(nlevel(geography_path), 3))::text) STORED;

CREATE INDEX members_newest ON members (tenant_id, registered_at DESC, id DESC);
CREATE INDEX members_status_newest ON members (tenant_id, status, registered_at DESC, id DESC);
CREATE INDEX members_province_newest ON members (tenant_id, province_key, registered_at DESC, id DESC);
CREATE INDEX members_district_newest ON members (tenant_id, district_key, registered_at DESC, id DESC);
CREATE INDEX members_local_level_newest ON members (tenant_id, local_level_key, registered_at DESC, id DESC);
CREATE INDEX members_ward_newest ON members (tenant_id, ward_id, registered_at DESC, id DESC);
CREATE INDEX members_committee_newest ON members (tenant_id, committee_id, registered_at DESC, id DESC) WHERE committee_id IS NOT NULL;

-- Replaced by the ordered indexes above; the GiST path index could never serve a search
-- under row-level security (ltree's <@ is not leakproof) and cost every insert.
DROP INDEX members_status;
DROP INDEX members_committee;
DROP INDEX members_geography_path;

#!/bin/sh
# Runs once, when the postgres image initialises an empty data volume (as the superuser).
# The product's part is docker/postgres-init/sadasya.psql, the same file src/db/bootstrap.ts
# runs for `npm start` and the tests: the roles sadasya_owner and sadasya_app, the database
# sadasya, and the LEAKPROOF marks member search relies on. Temporal gets its own role and
# two databases here (only this stack runs Temporal on Postgres).
# Passwords come from the container's environment and reach psql through \getenv, so they
# never appear on a command line. To change one later, ALTER ROLE by hand: this script
# does not run again on an initialised volume.
set -e
: "${SADASYA_OWNER_PASSWORD:?SADASYA_OWNER_PASSWORD must be set}"
: "${SADASYA_APP_PASSWORD:?SADASYA_APP_PASSWORD must be set}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD must be set}"
# Where this directory is mounted (the image's entrypoint may source this script, so $0 is
# not to be trusted); SADASYA_INIT_DIR lets a test run the script from the repository.
init_dir="${SADASYA_INIT_DIR:-/docker-entrypoint-initdb.d}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v database=sadasya \
  -c '\getenv owner_password SADASYA_OWNER_PASSWORD' \
  -c '\getenv app_password SADASYA_APP_PASSWORD' \
  -f "$init_dir/sadasya.psql"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv temporal_password TEMPORAL_DB_PASSWORD
-- The schema itself is created by the temporal-schema service (temporal-sql-tool); owning
-- the databases lets it create the btree_gin extension the visibility schema needs.
CREATE ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
REVOKE ALL ON DATABASE temporal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal_visibility FROM PUBLIC;
SQL

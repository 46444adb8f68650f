#!/bin/sh
# Runs once, when the postgres image initialises an empty data volume (as the superuser).
# Mirrors src/db/bootstrap.ts: sadasya_owner owns the database and runs migrations,
# sadasya_app (what the API and the worker connect as) owns nothing, is no superuser and
# cannot bypass row-level security. Temporal gets its own role and two databases.
# Passwords come from the container's environment and reach psql through \getenv, so they
# never appear on a command line. To change one later, ALTER ROLE by hand: this script
# does not run again on an initialised volume.
: "${SADASYA_OWNER_PASSWORD:?SADASYA_OWNER_PASSWORD must be set}"
: "${SADASYA_APP_PASSWORD:?SADASYA_APP_PASSWORD must be set}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD must be set}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv owner_password SADASYA_OWNER_PASSWORD
\getenv app_password SADASYA_APP_PASSWORD
\getenv temporal_password TEMPORAL_DB_PASSWORD

CREATE ROLE sadasya_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_password';
CREATE ROLE sadasya_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'app_password';
CREATE DATABASE sadasya OWNER sadasya_owner;
REVOKE ALL ON DATABASE sadasya FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE sadasya TO sadasya_app;

-- The schema itself is created by the temporal-schema service (temporal-sql-tool); owning
-- the databases lets it create the btree_gin extension the visibility schema needs.
CREATE ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
REVOKE ALL ON DATABASE temporal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal_visibility FROM PUBLIC;
SQL

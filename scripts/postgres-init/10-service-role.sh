#!/bin/sh
# Run once by the postgres image on a fresh volume (docker-compose.yml mounts this folder at
# /docker-entrypoint-initdb.d): the role the service connects as. It owns nothing of the disclosure log;
# `samverkan migrate --service-role samverkan_app` (the compose service "migrate", as the owner) grants it the
# rights it needs (docs/audit.md, "Database roles"). On an existing volume, create the role by hand the same way.
set -eu
psql -v ON_ERROR_STOP=1 -v password="${SAMVERKAN_APP_DB_PASSWORD:-samverkan_app}" \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'EOSQL'
CREATE ROLE samverkan_app LOGIN PASSWORD :'password';
EOSQL

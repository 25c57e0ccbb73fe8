#!/bin/bash
# Runs once, when the PostgreSQL data directory is first created (the image's
# /docker-entrypoint-initdb.d): one role and one database per service, each
# role owning its database only. The passwords come from the Secret
# postgres-secrets (the same ones as in the services' database URLs).
set -euo pipefail
for svc in auth flight hotel reservation; do
    var="$(printf '%s' "$svc" | tr '[:lower:]' '[:upper:]')_PASSWORD"
    password="${!var:?$var is not set}"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v svc="$svc" -v password="$password" <<'SQL'
CREATE ROLE :"svc" LOGIN PASSWORD :'password';
CREATE DATABASE :"svc" OWNER :"svc";
REVOKE ALL ON DATABASE :"svc" FROM PUBLIC;
SQL
done

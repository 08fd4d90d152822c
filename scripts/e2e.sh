#!/usr/bin/env bash
# Starts the freshly built server on its own port with a new database and data folder,
# waits until it answers, runs Playwright against it, and always stops it. The database
# is a SQLite file, or with E2E_DATABASE=postgres a new PostgreSQL database on
# E2E_PG_URL's server (dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

# A free port, found first: a stale server left on a fixed port is never tested.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=${E2E_PORT:-$(free_port)}
# This server's name: ready means this very process answers, not any server on the port.
INSTANCE="e2e-$$-$RANDOM"
BIN=${E2E_SERVER_BIN:-${CARGO_TARGET_DIR:-target}/debug/server}
DATA=$(mktemp -d)
LOG="$DATA/server.log"
DATABASE="sqlite://$DATA/concours.db"
PG_DB=
if [ "${E2E_DATABASE:-sqlite}" = postgres ]; then
  PG_URL=${E2E_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  PG_DB="concours_e2e_$$"
  psql "$PG_URL" -qc "create database $PG_DB"
  DATABASE="${PG_URL%/*}/$PG_DB"
  echo "Playwright against PostgreSQL ($PG_DB)"
fi

SERVER=
PROVIDER=
cleanup() {
  for p in $SERVER $PROVIDER; do kill "$p" 2>/dev/null || true; done
  if [ -n "$SERVER" ]; then wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$DATA"
  if [ -n "$PG_DB" ]; then psql "$PG_URL" -qc "drop database if exists $PG_DB" || true; fi
}
trap cleanup EXIT

# A local FranceConnect (scripts/franceconnect/provider.mjs) whose client comes back to
# this server: the FranceConnect journeys go through its screens.
FC_LOG="$DATA/franceconnect.log"
FC_PORT=0 FC_RP="http://127.0.0.1:$PORT" node scripts/franceconnect/provider.mjs >"$FC_LOG" 2>&1 &
PROVIDER=$!
for _ in $(seq 1 100); do
  FC_ISSUER=$(sed -n 's/^FranceConnect local: //p' "$FC_LOG")
  [ -n "$FC_ISSUER" ] && break
  kill -0 "$PROVIDER" 2>/dev/null || break
  sleep 0.1
done
[ -n "${FC_ISSUER:-}" ] || { echo "the local FranceConnect did not start:"; cat "$FC_LOG"; exit 1; }

# Under scripts/with-clamd.sh, every upload is scanned by its clamd.
env ${TEST_CLAMD:+APP_CLAMD="$TEST_CLAMD"} APP_INSTANCE="$INSTANCE" \
  APP_FRANCECONNECT_ISSUER="$FC_ISSUER" APP_FRANCECONNECT_CLIENT_ID=concours \
  APP_FRANCECONNECT_CLIENT_SECRET=secret-concours \
  APP_ADDRESS="127.0.0.1:$PORT" APP_DATA_DIR="$DATA" APP_SITE_ROOT=target/site APP_DEMO=true \
  APP_TRUSTED_PROXIES=127.0.0.1 \
  DATABASE_URL="$DATABASE" RUST_LOG=${E2E_LOG:-warn} "$BIN" >"$LOG" 2>&1 &
SERVER=$!

ours() { curl -fsS -D - -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null | tr -d '\r' | grep -qix "x-instance: $INSTANCE"; }
for _ in $(seq 1 150); do
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "the server stopped during start-up:"; cat "$LOG"; exit 1
  fi
  if ours; then break; fi
  sleep 0.2
done
ours || { echo "server not ready (or another one answers on port $PORT)"; cat "$LOG"; exit 1; }

BIN_ABS=$(realpath "$BIN")
SITE_ABS=$(realpath target/site)
cd end2end
# The deadline test starts servers of its own, on a test clock, from the same build.
BASE_URL="http://127.0.0.1:$PORT" MAIL_DIR="$DATA/mails" E2E_SERVER_BIN="$BIN_ABS" FC_ISSUER="$FC_ISSUER" \
  E2E_SITE_ROOT="$SITE_ABS" npx playwright test "$@" || { echo "--- server log"; cat "$LOG"; exit 1; }

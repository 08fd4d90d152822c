#!/usr/bin/env bash
# Runs a command with ClamAV daemons of its own (Debian's clamav-daemon, which
# `tools.sh test` installs): no signature download is possible here, so their database
# holds one signature, the EICAR test file's. TEST_CLAMD names the one that takes files
# up to 40 Mo (above the largest pièce), TEST_CLAMD_SMALL one that takes 1 Mo (for the
# « erreur d'analyse » of a file over its limit), TEST_CLAMD_SHIPPED one that reads
# 40 Mo but scans 1 Mo (MaxFileSize) and, as distributions ship it, answers « OK » past
# that (AlertExceedsMax no), TEST_CLAMD_ALERT the same with AlertExceedsMax yes (it
# answers Heuristics.Limits.Exceeded). Always stops them.
#   scripts/with-clamd.sh cargo test --workspace
set -euo pipefail

if ! command -v clamd >/dev/null; then
  if [ -n "${CI:-}" ]; then
    echo "clamd est requis sous CI (scripts/tools.sh test l'installe)"; exit 1
  fi
  echo "clamd is not installed (scripts/tools.sh test installs it): antivirus tests skipped"
  exec "$@"
fi

ROOT=$(mktemp -d)
mkdir -p "$ROOT/db"
# The EICAR test file's 68 characters, as ClamAV's body-signature format (hex) has it.
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf 'Eicar-Test-Signature:0:*:%s\n' "$(printf '%s' "$EICAR" | od -An -tx1 | tr -d ' \n')" >"$ROOT/db/eicar.ndb"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$ROOT"
}
trap cleanup EXIT

start() { # name, stream limit, file limit, alert past the limits
  cat >"$ROOT/$1.conf" <<CONF
Foreground yes
LocalSocket $ROOT/$1.sock
DatabaseDirectory $ROOT/db
StreamMaxLength $2
MaxFileSize $3
MaxScanSize 100M
AlertExceedsMax $4
MaxThreads 4
LogFile $ROOT/$1.log
CONF
  clamd -c "$ROOT/$1.conf" >/dev/null 2>&1 &
  PIDS+=($!)
}
start clamd 40M 40M no
start small 1M 1M no
start shipped 40M 1M no
start alert 40M 1M yes
for name in clamd small shipped alert; do
  for _ in $(seq 1 300); do
    [ -S "$ROOT/$name.sock" ] && break
    sleep 0.1
  done
  if [ ! -S "$ROOT/$name.sock" ]; then echo "clamd ($name) did not start:"; cat "$ROOT/$name.log"; exit 1; fi
done
export TEST_CLAMD="unix:$ROOT/clamd.sock" TEST_CLAMD_SMALL="unix:$ROOT/small.sock" \
  TEST_CLAMD_SHIPPED="unix:$ROOT/shipped.sock" TEST_CLAMD_ALERT="unix:$ROOT/alert.sock"
echo "clamd at $TEST_CLAMD (and $TEST_CLAMD_SMALL, 1 Mo)"
"$@"

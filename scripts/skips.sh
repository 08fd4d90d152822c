#!/usr/bin/env bash
# The end of `make test`: what could not run here (a configuration absent), counted by
# configuration from the lines the tests wrote (services::testing::missing, e2e.sh),
# so that a skip is never silent. Under CI a missing configuration already failed.
#   scripts/skips.sh FILE
set -euo pipefail
FILE=${1:?file}
if [ ! -s "$FILE" ]; then
  echo "Toutes les configurations ont été testées (SQLite, PostgreSQL, S3, clamd, Playwright sur SQLite et PostgreSQL)."
  exit 0
fi
sort -u "$FILE" | cut -f1 | sort | uniq -c | while read -r count what; do
  case "$count" in 1) tests="test non exécuté" ;; *) tests="tests non exécutés" ;; esac
  echo "$what absent : $count $tests sur $what"
done

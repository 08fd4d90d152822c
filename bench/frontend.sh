#!/usr/bin/env bash
# Front-end figures for `make bench`: page weight of the release build, and Lighthouse
# (mobile profile, Debian's Chromium) on the catalogue and the demo candidate's dossier
# page, served by the release server on 127.0.0.1. Writes bench/results/frontend.json
# and appends a table to bench/results/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench/results}
PORT=3310
DATA=$(mktemp -d)
mkdir -p "$OUT"
(cd bench && [ -d node_modules/lighthouse ] || npm ci --no-fund --no-audit)

APP_ADDRESS="127.0.0.1:$PORT" APP_DATA_DIR="$DATA" APP_DEMO=true RUST_LOG=warn \
  "${CARGO_TARGET_DIR:-target}/release/server" serve >"$DATA/log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
B="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -fs "$B/healthz" >/dev/null && break; sleep 0.1; done
COOKIE=$(curl -s -o /dev/null -D - -H "Origin: $B" -H "Accept: text/html" \
  --data "numero=99-DEM0-0001&mot_de_passe=essai+du+parcours+candidat" "$B/api/espace/connexion" \
  | grep -i '^set-cookie: espace=' | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//')

node bench/weight.mjs target/site/pkg >"$OUT/weight.json"
FLAGS="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync"
lh() { # url name [extra headers]
  bench/node_modules/.bin/lighthouse "$1" --quiet --chrome-path=/usr/bin/chromium \
    --chrome-flags="$FLAGS" --only-categories=performance,accessibility \
    --output=json --output-path="$OUT/lighthouse-$2.json" ${3:+--extra-headers="$3"}
}
lh "$B/" catalogue
lh "$B/espace" dossier "{\"Cookie\": \"$COOKIE\"}"

node - "$OUT" >>"$OUT/results.md" <<'JS'
const fs = require("fs");
const out = process.argv[2];
const w = JSON.parse(fs.readFileSync(`${out}/weight.json`));
const score = (n) => {
  const r = JSON.parse(fs.readFileSync(`${out}/lighthouse-${n}.json`));
  return [Math.round(r.categories.performance.score * 100), Math.round(r.categories.accessibility.score * 100)];
};
const kib = (b) => (b / 1024).toFixed(1);
let md = "\n## Front end\n\n| file | raw KiB | gzip KiB | brotli KiB |\n|---|---|---|---|\n";
for (const f of w.files) md += `| ${f.file} | ${kib(f.raw)} | ${kib(f.gzip)} | ${kib(f.brotli)} |\n`;
md += `| **total** (budget ≤ 250 KiB brotli) | ${kib(w.total.raw)} | ${kib(w.total.gzip)} | **${kib(w.total.brotli)}** |\n\n`;
md += "| Lighthouse, mobile | performance (budget ≥ 90) | accessibility (budget 100) |\n|---|---|---|\n";
for (const n of ["catalogue", "dossier"]) { const [p, a] = score(n); md += `| ${n} | ${p} | ${a} |\n`; }
process.stdout.write(md);
JS
fs_summary=$(node -e "const w=require('./$OUT/weight.json'); console.log(w.total.brotli)")
echo "front end: $fs_summary bytes brotli; Lighthouse reports in $OUT"

#!/usr/bin/env bash
# Front-end figures for `make bench`: Lighthouse (mobile profile, Debian's Chromium)
# on the pages a candidate meets, served by the release server on 127.0.0.1: the
# catalogue, the connexion page, a wizard step, the demo candidate's dossier page and a
# document window. For each, what the phone downloads to make it interactive (the
# JavaScript and Wasm it loads, as served: brotli), and the two scores. Appends the
# table to bench/results/results.md; bench/results/weight.json keeps each bundle's
# raw / gzip / brotli sizes. Then a phone photo's deposit over 2 Mbit/s
# (bench/phone-photo.mjs).
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
# name, address, whether it needs the demo candidate's session
PAGES="catalogue / no
connexion /connexion no
wizard /inscription/demo-redacteur-territorial/identite no
dossier /espace yes
document-window /espace/pieces/piece-identite yes"
while read -r name path session; do
  if [ "$session" = yes ]; then lh "$B$path" "$name" "{\"Cookie\": \"$COOKIE\"}"; else lh "$B$path" "$name"; fi
done <<<"$PAGES"

node - "$OUT" >>"$OUT/results.md" <<'JS'
const fs = require("fs");
const out = process.argv[2];
const kib = (b) => (b / 1024).toFixed(1);
// Pages with nothing to react to on their own: at most 30 KiB; any candidate page with
// something interactive: at most 120 KiB.
const pages = [
  ["catalogue", 30], ["connexion", 30], ["wizard", 120], ["dossier", 120], ["document-window", 120],
];
let md = "\n## Front end, page by page\n\nWhat a phone downloads to make each page interactive: its JavaScript and Wasm as served (brotli), from Lighthouse's network log (mobile profile).\n\n";
md += "| page | JS + Wasm KiB (budget) | Lighthouse performance (budget ≥ 98) | accessibility (budget 100) |\n|---|---|---|---|\n";
for (const [n, budget] of pages) {
  const r = JSON.parse(fs.readFileSync(`${out}/lighthouse-${n}.json`));
  const code = r.audits["network-requests"].details.items
    .filter((i) => /\.(js|wasm)(\?|$)/.test(i.url))
    .reduce((s, i) => s + (i.transferSize || 0), 0);
  const p = Math.round(r.categories.performance.score * 100);
  const a = Math.round(r.categories.accessibility.score * 100);
  md += `| ${n} | ${kib(code)} (≤ ${budget}) | ${p} | ${a} |\n`;
}
process.stdout.write(md);
JS
# A phone photo over 2 Mbit/s, as taken and made lighter (after Lighthouse: it adds
# two files to the demo candidate's identity pièce).
node bench/phone-photo.mjs "$B" "$COOKIE" >"$OUT/phone-photo.json"
node - "$OUT" >>"$OUT/results.md" <<'JS'
const r = JSON.parse(require("fs").readFileSync(`${process.argv[2]}/phone-photo.json`));
const mb = (b) => (b / 1e6).toFixed(1);
process.stdout.write(`\n## A phone photo over a 2 Mbit/s link\n\nA 12-megapixel photo (4032 × 3024, ${mb(r.photo_bytes)} MB), deposited from the document window with Chromium's network throttled to 2 Mbit/s both ways (50 ms latency), until « fichier enregistré »:\n\n| sent | seconds |\n|---|---|\n| as taken (« envoyer l'original ») | ${r.seconds_original.toFixed(1)} |\n| made lighter in the browser (${r.notice}) | ${r.seconds_lighter.toFixed(1)} |\n`);
JS
# First and repeat visits: hashed /pkg names served immutable mean a second page, or a
# reload, fetches no JavaScript or Wasm and asks nothing (not even a revalidation).
node bench/repeat-visit.mjs "$B" >"$OUT/repeat-visit.json"
node - "$OUT" >>"$OUT/results.md" <<'JS'
const rows = JSON.parse(require("fs").readFileSync(`${process.argv[2]}/repeat-visit.json`));
let md = "\n## First and repeat visits\n\nJavaScript and Wasm of `/pkg` a browser fetches (Chromium, one profile, in this order): requests that left the browser (a 304 revalidation counts) and bytes over the network.\n\n| visit | files used | requests sent | of which 304 | KiB over the network |\n|---|---|---|---|---|\n";
for (const r of rows) md += `| ${r.visit} | ${r.files} | ${r.requests_sent} | ${r.revalidated_304} | ${(r.bytes_over_network / 1024).toFixed(1)} |\n`;
process.stdout.write(md);
JS
fs_summary=$(node -e "console.log(require(require('path').resolve(process.argv[1])).total.brotli)" "$OUT/weight.json")
echo "front end: $fs_summary bytes brotli; Lighthouse reports in $OUT"

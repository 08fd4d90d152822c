#!/usr/bin/env bash
# Peak resident memory of the server while N uploads of ~10 MiB run at once (loopback
# only, bounded). Not a test: a measurement for the notes. Usage:
#   bench/upload-memory.sh [server-binary] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/server}
N=${2:-10}
PORT=3190
DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT

python3 - "$DATA/big.pdf" <<'PY'
import sys
body = b"%PDF-1.7\n" + b" " * (10 * 1024 * 1024 - 2048) + b"\nstartxref\n0\n%%EOF\n"
open(sys.argv[1], "wb").write(body)
PY

# The demo exam, with room for N files in the diploma pièce, so every upload is stored.
mkdir "$DATA/exams"
python3 - "$N" exams/demo-redacteur-territorial.toml "$DATA/exams/demo.toml" <<'PY'
import sys
n, src, dst = sys.argv[1:]
text = open(src).read()
head, rest = text.split('code = "diplome"', 1)
rest = rest.replace("max_files = 3", f"max_files = {n}", 1)
open(dst, "w").write(head + 'code = "diplome"' + rest)
PY

APP_ADDRESS="127.0.0.1:$PORT" APP_DATA_DIR="$DATA" APP_EXAMS_DIR="$DATA/exams" APP_DEMO=true RUST_LOG=warn "$BIN" >"$DATA/log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
B="http://127.0.0.1:$PORT"
COOKIE=$(curl -s -o /dev/null -D - -H "Origin: $B" -H "Accept: text/html" \
  --data "numero=99-DEM0-0001&mot_de_passe=essai+du+parcours+candidat" "$B/api/espace/connexion" \
  | grep -i '^set-cookie: espace=' | sed 's/^[Ss]et-[Cc]ookie: //; s/;.*//')
hwm() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
echo "before: rss=$(rss) KiB peak=$(hwm) KiB"
start=$(date +%s.%N)
PIDS=()
for i in $(seq 1 "$N"); do
  curl -s -o "$DATA/status.$i" -w "%{http_code}\n" -H "Origin: $B" -H "Accept: application/json" -b "$COOKIE" \
    -F "fichier=@$DATA/big.pdf;type=application/pdf" "$B/espace/pieces/diplome/fichiers" >"$DATA/code.$i" &
  PIDS+=($!)
done
# Peak while they run, sampled (VmHWM also counts the start-up).
PEAK=0
running() { for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do
  r=$(rss); [ "$r" -gt "$PEAK" ] && PEAK=$r
  sleep 0.02
done
wait "${PIDS[@]}"
cat "$DATA"/code.* | sort | uniq -c
end=$(date +%s.%N)
echo "after $N concurrent uploads of $(stat -c %s "$DATA/big.pdf") bytes: rss=$(rss) KiB, sampled peak during them=$PEAK KiB, VmHWM=$(hwm) KiB, wall $(echo "$end - $start" | bc) s"

#!/usr/bin/env bash
# Runs a command with an S3-compatible server of its own (s3s-fs on a free port, one
# folder per bucket in a temporary folder), the standard AWS_* variables pointing at it
# and TEST_S3_BUCKET naming its bucket; always stops it. `tools.sh test` installs s3s-fs.
#   scripts/with-s3.sh cargo test --workspace
set -euo pipefail

ROOT=$(mktemp -d)
BUCKET=concours-tests
mkdir -p "$ROOT/$BUCKET"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=concours AWS_SECRET_ACCESS_KEY=concours-secret
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ALLOW_HTTP=true
export TEST_S3_BUCKET=$BUCKET

s3s-fs --host 127.0.0.1 --port "$PORT" --access-key "$AWS_ACCESS_KEY_ID" \
  --secret-key "$AWS_SECRET_ACCESS_KEY" "$ROOT" >"$ROOT.log" 2>&1 &
S3=$!
cleanup() {
  kill "$S3" 2>/dev/null || true
  wait "$S3" 2>/dev/null || true
  rm -rf "$ROOT" "$ROOT.log"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$S3" 2>/dev/null; then echo "s3s-fs stopped:"; cat "$ROOT.log"; exit 1; fi
  sleep 0.1
done
echo "S3 server (s3s-fs) at $AWS_ENDPOINT_URL, bucket $BUCKET"
"$@"

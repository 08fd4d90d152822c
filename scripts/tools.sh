#!/usr/bin/env bash
# Installs what the build needs, only from the package registries, skipping what is
# already there. `tools.sh` for building, `tools.sh test` adds the browser-test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
# The wasm-bindgen CLI must be exactly the version of the crate in Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 14 minutes on 2 cores)"
  # 0.3.11 needs a newer rustc; no_downloads makes it use the tools below from PATH.
  cargo install --locked "cargo-leptos@$CARGO_LEPTOS_VERSION" --features no_downloads
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 8 minutes)"
  # Not --locked: the registry here lacks one crate of its lockfile.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! command -v wasm-opt >/dev/null; then
  say "installing wasm-opt (binaryen, from npm)"
  npm install -g binaryen@132 --no-fund --no-audit
fi

if [ "${1:-}" = test ]; then
  # An S3-compatible server on a local folder, for the object-store tests; 0.17 needs
  # a newer rustc than ours.
  if ! cargo install --list | grep -q "^s3s-fs v0.14.1"; then
    say "installing s3s-fs 0.14.1 (an S3 server for the tests, about 5 minutes)"
    cargo install --locked s3s-fs@0.14.1 --features binary
  fi
  # A local SMTP server speaking TLS, for services/tests/mail_tls.rs.
  if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    say "installing aiosmtpd 1.4.6 (an SMTP server for the tests)"
    python3 -m pip install --quiet aiosmtpd==1.4.6
  fi
  # ClamAV's daemon, for the antivirus tests (scripts/with-clamd.sh); its service is
  # not started, and no signature is downloaded (the tests write their own).
  if ! command -v clamd >/dev/null; then
    say "installing Debian's clamav-daemon"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q clamav-daemon
  fi
  # qpdf, a real PDF reader: the PDF checks' tests ask its opinion of hostile files.
  if ! command -v qpdf >/dev/null; then
    say "installing Debian's qpdf"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q qpdf
  fi
  # poppler's pdfinfo reads the structure tree of the PDFs the service makes (RGAA 13.3).
  if ! command -v pdfinfo >/dev/null; then
    say "installing Debian's poppler-utils"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q poppler-utils
  fi
  if ! command -v chromium >/dev/null; then
    say "installing Debian's Chromium"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  fi
  # The local FranceConnect of the tests (npm oidc-provider), from its lock file.
  if [ ! -f scripts/franceconnect/node_modules/.installed ] || [ scripts/franceconnect/package-lock.json -nt scripts/franceconnect/node_modules/.installed ]; then
    say "installing the local FranceConnect provider (npm oidc-provider)"
    (cd scripts/franceconnect && npm ci --no-fund --no-audit && touch node_modules/.installed)
  fi
  # npm ci from the committed lock file, again only when it changed.
  if [ ! -f end2end/node_modules/.installed ] || [ end2end/package-lock.json -nt end2end/node_modules/.installed ]; then
    say "installing the Playwright packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-fund --no-audit && touch node_modules/.installed)
  fi
fi

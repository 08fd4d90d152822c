# The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# `make run` is the demo set-up: it seeds the demo candidate (APP_DEMO=false to skip).
APP_DEMO ?= true
PG_UP := $(shell psql "$(PG_URL)" -Atqc 'select 1' 2>/dev/null)
# Where cargo writes binaries: CARGO_TARGET_DIR when set (a build cache kept elsewhere).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# Configurations a test could not run on here (PostgreSQL, S3, clamd), one line each:
# counted at the end of `make test`, never silent; under CI a missing one fails.
SKIPS := $(abspath $(TARGET_DIR))/test-skips.txt
export TEST_SKIPS_FILE := $(SKIPS)

.PHONY: run seed-volume test bench bench-scale tools test-tools build-release build-debug fmt-check clippy rust-test e2e e2e-pg pg-clean skips-start skips-report

## Build (release), migrate, import the exams and serve on http://127.0.0.1:3000.
run: tools build-release
	APP_DEMO=$(APP_DEMO) $(TARGET_DIR)/release/server serve

## The demo exam at a real concours's volume: N candidates (2,000 by default) at every
## stage, to try the service's lists, filters, bulk actions and exports; then `make run`.
N ?= 2000
seed-volume: tools build-release
	$(TARGET_DIR)/release/server seed-volume $(N)

## Formatting, lints, all Rust tests (SQLite and PostgreSQL), then Playwright on SQLite
## and on PostgreSQL; then what could not run here, if anything.
test: test-tools skips-start fmt-check clippy rust-test e2e e2e-pg skips-report

## The deadline-night benchmark: release build, then bench/results/results.{json,md};
## under scripts/with-s3.sh (s3s-fs, from test-tools) for the runs with files in S3.
bench: test-tools build-release
	cargo build --release -p bench
	scripts/with-s3.sh $(TARGET_DIR)/release/bench --out bench/results --server $(TARGET_DIR)/release/server
	bench/frontend.sh bench/results

## The service at volume: 1,000, 10,000 and 50,000 dossiers on PostgreSQL, then
## bench/results/scale.{md,json,svg}.
SIZES ?= 1000,10000,50000
bench-scale: test-tools build-release
	cargo build --release -p bench
	$(TARGET_DIR)/release/bench --out bench/results --server $(TARGET_DIR)/release/server --scale $(SIZES)

tools:
	@scripts/tools.sh

test-tools:
	@scripts/tools.sh test

# --split: the upload's work (`#[lazy]`, `app/src/pieces/browser.rs`) gets a Wasm chunk
# of its own, fetched only when a file is chosen.
build-release:
	cargo leptos build --release --split
	node scripts/precompress.mjs target/site

build-debug:
	cargo leptos build --split

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy -p domain -p services -p app -p server -p bench --all-targets --features app/ssr,services/testing -- -D warnings
	cargo clippy -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings

# Service and HTTP tests run on SQLite always, and on PostgreSQL when it answers
# (each test creates its own database, dropped afterwards); files on a local folder,
# and on an S3 server that scripts/with-s3.sh starts for them; the antivirus against
# the clamd daemons scripts/with-clamd.sh starts (EICAR signature only). A hung test fails the
# run at 45 minutes instead of holding CI.
rust-test:
ifeq ($(PG_UP),1)
	$(MAKE) pg-clean
	DATABASE_URL_PG=$(PG_URL) timeout 45m scripts/with-s3.sh scripts/with-clamd.sh cargo test --workspace --exclude frontend; status=$$?; $(MAKE) pg-clean; exit $$status
else
ifneq ($(CI),)
	@echo "PostgreSQL ne répond pas à $(PG_URL) : il est requis sous CI (.ci/run le démarre)."; exit 1
endif
	@echo "PostgreSQL does not answer at $(PG_URL): Rust tests run on SQLite only"
	timeout 45m scripts/with-s3.sh scripts/with-clamd.sh cargo test --workspace --exclude frontend
endif

skips-start:
	@mkdir -p $(dir $(SKIPS)); rm -f $(SKIPS)

skips-report:
	@scripts/skips.sh $(SKIPS)

pg-clean:
	@psql "$(PG_URL)" -Atqc "select datname from pg_database where datname like 'concours\_t\_%'" \
	  | while read -r db; do psql "$(PG_URL)" -qc "drop database if exists \"$$db\"" ; done

e2e: build-debug
	scripts/with-clamd.sh scripts/e2e.sh

## The same browser tests against a server on PostgreSQL (its locks and timeouts).
e2e-pg: build-debug
ifeq ($(PG_UP),1)
	E2E_DATABASE=postgres E2E_PG_URL=$(PG_URL) scripts/with-clamd.sh scripts/e2e.sh
else
ifneq ($(CI),)
	@echo "PostgreSQL ne répond pas à $(PG_URL) : il est requis sous CI."; exit 1
endif
	@printf 'PostgreSQL\tPlaywright (make e2e-pg)\n' >>$(SKIPS)
endif

# Tandem: the two commands a fresh machine needs.
#
#   make run    build everything (WASM core, web client, server) and run it
#   make test   build everything and run every test
#
# Each installs what it needs itself (the wasm32 target, wasm-bindgen-cli
# into ./.tools, npm packages into web/node_modules, Chromium via apt).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

.PHONY: help run build wasm web test test-rust test-fuzz test-wasm test-web lint bench

help:
	@echo "make run    build everything and run the server on http://localhost:3030/"
	@echo "make test   build everything and run every test"
	@echo "make bench  run the benchmarks (figures go to docs/benchmarks.md)"

## Build the WASM core (ot-wasm/pkg), the web client (web/dist) and the
## release server binary, which embeds the web client.
build: web
	cargo build --release -p tandem-server

wasm:
	scripts/build-wasm.sh

web:
	scripts/build-web.sh

run: build
	./target/release/tandem

## Every test: formatting and lints (Rust, Dockerfile), the Rust workspace
## (OT properties, simulation, trace replays, server unit and black-box
## tests) with a few seconds of the load generator as a smoke test, a short
## run of each cargo-fuzz target, the WASM tests under Node and Chromium,
## and the web client's unit and end-to-end tests in headless Chromium
## (whose build checks the WASM and bundle size budgets).
test: lint test-rust test-fuzz test-wasm test-web
	@echo "all tests passed"

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/lint-docker.sh

test-rust:
	cargo test --workspace
	scripts/bench-smoke.sh

## The cargo-fuzz targets (fuzz/), FUZZ_SECONDS each (20 by default: about
## five minutes in all on a fresh two-core machine, most of it installing
## cargo-fuzz into .tools/ and building the targets). docs/fuzzing.md.
FUZZ_SECONDS ?= 20
test-fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

test-wasm:
	scripts/test-wasm.sh

test-web:
	scripts/test-web.sh

bench:
	cargo bench -p tandem-ot --bench ot
	node web/scripts/bench-wasm.mjs --runs 11
	cargo build --release -p tandem-server -p tandem-bench
	target/release/tandem-bench --spawn target/release/tandem --docs 1 --clients 8 --rate 0 --duration 15

# chatverify: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test lint fmt services deploy-check check

## run: Redis + PostgreSQL (reused, started or installed), dev keys, both services
run:
	@bash scripts/run.sh

## test: every test of the workspace against real Redis, PostgreSQL and SMTP
test: services
	$(CARGO) test --workspace --locked

## lint: formatting and clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## fmt: format the workspace
fmt:
	$(CARGO) fmt --all

## services: make Redis and PostgreSQL reachable (what `test` needs)
services:
	@bash scripts/services.sh

## deploy-check: render the Kubernetes overlays and validate them and compose offline
deploy-check:
	@bash deploy/check.sh

## check: what CI runs
check: lint test deploy-check

help:
	@grep -E '^## ' Makefile | sed 's/^## //'

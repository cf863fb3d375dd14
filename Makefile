# chatverify: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test lint fmt services deploy-check check bench api-docs api-check

## run: Redis + PostgreSQL (reused, started or installed), dev keys, both services
run:
	@bash scripts/run.sh

## test: every test of the workspace against real Redis, PostgreSQL and SMTP, then the cross-replica and code-rule tests again on a Redis Cluster
test: services
	$(CARGO) test --workspace --locked
	CARGO=$(CARGO) bash scripts/test-cluster.sh

## lint: formatting and clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## fmt: format the workspace
fmt:
	$(CARGO) fmt --all

## api-docs: regenerate docs/api/ (OpenAPI of both services, chat's frames schema and AsyncAPI) from the code
api-docs: services
	UPDATE_API_DOCS=1 $(CARGO) test --locked -p verification -p chat --test api api_docs

## api-check: Schemathesis against both running services, from the /openapi.json each serves
api-check:
	@bash scripts/schemathesis.sh

## services: make Redis and PostgreSQL reachable (what `test` needs)
services:
	@bash scripts/services.sh

## deploy-check: render the Kubernetes overlays and validate them and compose offline
deploy-check:
	@bash deploy/check.sh

.PHONY: web-test e2e

## web-test: the web client's unit tests (npm ci, then vitest)
web-test:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npx vitest run

## e2e: the web app against both services in a real browser (installs chromium and npm packages)
e2e:
	@bash web/e2e/run.sh

## bench: release builds, verification + two chat replicas, every load scenario; writes bench/results/
bench:
	@bash scripts/bench.sh

## check: what CI runs
check: lint test deploy-check

help:
	@grep -E '^## ' Makefile | sed 's/^## //'

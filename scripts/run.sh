#!/usr/bin/env bash
# `make run`: Redis and PostgreSQL (reused, started or installed), development keys,
# then both services in the foreground with mail printed to the log. Ctrl-C stops
# the services and whatever this script started.
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
cd "$ROOT"

KEYS_DIR="$RUN_DIR/keys"
PIDS=()

cleanup() {
  trap - INT TERM EXIT
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  stop_started
}
trap cleanup INT TERM EXIT

ensure_keys() {
  # The public key's file stem is its kid: "dev".
  if [ -f "$KEYS_DIR/private/dev.pem" ] && [ -f "$KEYS_DIR/dev.pem" ]; then return; fi
  command -v openssl >/dev/null || { can_apt && apt_install openssl; } \
    || die "openssl is needed to generate development keys"
  log "generating development Ed25519 keys in .run/keys"
  mkdir -p "$KEYS_DIR/private"
  chmod 700 "$KEYS_DIR/private"
  openssl genpkey -algorithm ed25519 -out "$KEYS_DIR/private/dev.pem" 2>/dev/null
  openssl pkey -in "$KEYS_DIR/private/dev.pem" -pubout -out "$KEYS_DIR/dev.pem"
  head -c 32 /dev/urandom > "$KEYS_DIR/private/code_hash_key"
}

ensure_redis
ensure_postgres
ensure_database
ensure_keys

log "building the services"
cargo build --bin verification --bin chat

export REDIS_URL DATABASE_URL
export JWT_PUBLIC_KEYS="$KEYS_DIR/dev.pem"
export RUST_LOG="${RUST_LOG:-info}"
export ALLOWED_ORIGINS="${ALLOWED_ORIGINS:-}"

JWT_PRIVATE_KEY="$KEYS_DIR/private/dev.pem" CODE_HASH_KEY="$KEYS_DIR/private/code_hash_key" \
  MAIL_TRANSPORT="${MAIL_TRANSPORT:-log}" LISTEN_ADDR="${VERIFICATION_ADDR:-127.0.0.1:8081}" \
  target/debug/verification &
PIDS+=($!)
# Let the first service apply migrations before the second one starts.
VERIFICATION_PORT="${VERIFICATION_ADDR:-127.0.0.1:8081}"; wait_port 127.0.0.1 "${VERIFICATION_PORT##*:}" || true
LISTEN_ADDR="${CHAT_ADDR:-127.0.0.1:8082}" target/debug/chat &
PIDS+=($!)

log "verification on http://${VERIFICATION_ADDR:-127.0.0.1:8081}, chat on ws://${CHAT_ADDR:-127.0.0.1:8082}/ws/chat/ (Ctrl-C stops)"
# Exit when either service exits (or on Ctrl-C, through the trap).
wait -n "${PIDS[@]}"

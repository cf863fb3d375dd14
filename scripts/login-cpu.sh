#!/usr/bin/env bash
# CPU per login, measured at a fixed rate: what `make bench`'s verify-login
# target is made of, and steady on a shared machine where throughput is not.
#
#   scripts/login-cpu.sh [RATE] [SECONDS]     (defaults: 400 logins/s for 10 s)
#
# Starts a private redis-server (so other work on the shared Redis is not
# counted), a fresh database on the PostgreSQL that `make test` uses, and the
# release `verification` binary (VERIFICATION_BIN overrides, LOADTEST_BIN too),
# then runs loadtest verify-login at RATE for SECONDS and prints the CPU time
# (utime + stime from /proc) of verification, redis-server, the database's
# PostgreSQL backends and the load tool, per completed login.
set -euo pipefail
# shellcheck source=scripts/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
cd "$ROOT"

RATE="${1:-400}"
SECS="${2:-10}"
VERIFY_BIN="${VERIFICATION_BIN:-$ROOT/target/release/verification}"
LOAD_BIN="${LOADTEST_BIN:-$ROOT/target/release/loadtest}"
WORK="$(mktemp -d)"
DB_NAME="chatverify_cpu_$(date -u +%Y%m%d%H%M%S)_$$"
PIDS=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cleanup() {
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup INT TERM EXIT

ensure_postgres
REDIS_PORT="$(free_port)"; HTTP_PORT="$(free_port)"; SMTP_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!; PIDS+=("$REDIS_PID")
psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE \"$DB_NAME\"" >/dev/null
[ -n "${PG_LOG_STATEMENTS:-}" ] && psql "${DATABASE_URL%/*}/postgres" -qc "ALTER DATABASE \"$DB_NAME\" SET log_statement = 'all'" >/dev/null
mkdir -p "$WORK/keys/private"
openssl genpkey -algorithm ed25519 -out "$WORK/keys/private/k.pem" 2>/dev/null
openssl pkey -in "$WORK/keys/private/k.pem" -pubout -out "$WORK/keys/k.pem"
openssl rand -hex 32 > "$WORK/keys/private/code_hash_key"

env REDIS_URL="redis://127.0.0.1:$REDIS_PORT" DATABASE_URL="${DATABASE_URL%/*}/$DB_NAME" \
  JWT_PUBLIC_KEYS="$WORK/keys/k.pem" JWT_PRIVATE_KEY="$WORK/keys/private/k.pem" \
  CODE_HASH_KEY="$WORK/keys/private/code_hash_key" LISTEN_ADDR="127.0.0.1:$HTTP_PORT" \
  MAIL_TRANSPORT="smtp://127.0.0.1:$SMTP_PORT" SEND_LIMIT_PER_IP=1000000000 \
  RUST_LOG=warn LOG_FORMAT=json "$VERIFY_BIN" >"$WORK/verification.log" 2>&1 &
VERIFY_PID=$!; PIDS+=("$VERIFY_PID")
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  local total=0 pid
  for pid in $(pgrep -f "postgres: .* $DB_NAME " || true); do total=$((total + $(ticks "$pid"))); done
  echo "$total"
}

"$LOAD_BIN" --out "$WORK/warmup.json" verify-login --url "http://127.0.0.1:$HTTP_PORT" \
  --smtp-listen "127.0.0.1:$SMTP_PORT" --rate 100 --max-rate 100 --duration 2s --no-half-load >/dev/null 2>&1
sleep 1
v0=$(ticks "$VERIFY_PID"); r0=$(ticks "$REDIS_PID"); p0=$(pg_ticks)
"$LOAD_BIN" --out "$WORK/run.json" verify-login --url "http://127.0.0.1:$HTTP_PORT" \
  --smtp-listen "127.0.0.1:$SMTP_PORT" --rate "$RATE" --max-rate "$RATE" --duration "${SECS}s" \
  --no-half-load 2>"$WORK/load.err" &
LOAD_PID=$!
if [ -n "${PERF_OUT:-}" ]; then
  perf record -F 499 -g -p "$VERIFY_PID" -o "$PERF_OUT" -- sleep "$SECS" >/dev/null 2>&1 &
fi
l=0
while kill -0 "$LOAD_PID" 2>/dev/null; do l=$(ticks "$LOAD_PID"); sleep 0.2; done
wait "$LOAD_PID" || true
v1=$(ticks "$VERIFY_PID"); r1=$(ticks "$REDIS_PID"); p1=$(pg_ticks)
logins=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(s["counts"].get("ok",0) for s in r["steps"]))' "$WORK/run.json")
hz=$(getconf CLK_TCK)
python3 - "$logins" "$hz" "$((v1 - v0))" "$((r1 - r0))" "$((p1 - p0))" "$l" "$RATE" "$SECS" <<'PY'
import sys
logins, hz = int(sys.argv[1]), int(sys.argv[2])
names = ["verification", "redis-server", "postgres (this database's backends)", "load tool (approx.)"]
ticks = [int(x) for x in sys.argv[3:7]]
print(f"{logins} logins at {sys.argv[7]}/s for {sys.argv[8]} s; CPU per login:")
for n, t in zip(names, ticks):
    print(f"  {n:40s} {1e6 * t / hz / max(logins, 1):8.0f} µs")
print(f"  {'services together (first three)':40s} {1e6 * sum(ticks[:3]) / hz / max(logins, 1):8.0f} µs")
PY
python3 - "$WORK/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for step in r["steps"]:
    for name, l in sorted(step["latency"].items()):
        print(f"  latency {name:8s} p50 {l['p50_ms']:7.2f} ms  p99 {l['p99_ms']:7.2f} ms  max {l.get('max_ms', 0):7.2f} ms")
PY
metrics="$(curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null || true)"
statements=$(awk '$1 == "verification_user_upsert_statements_total" {print $2}' <<<"$metrics")
upserts=$(awk '$1 == "verification_user_upserts_total" {print $2}' <<<"$metrics")
if [ -n "$statements" ] && [ "$statements" != 0 ]; then
  python3 -c "import sys; print(f'  users written per statement (mean)        {int(sys.argv[1]) / int(sys.argv[2]):8.2f}')" "$upserts" "$statements"
fi
if [ -n "${SHOW_REDIS_STATS:-}" ]; then
  redis-cli -p "$REDIS_PORT" info commandstats | grep -v '^#' | awk -F'[:,=]' -v n="$logins" \
    'NF > 4 { printf "  redis %-28s %6.2f calls/login %7.1f µs/call\n", $1, $3 / n, $7 }'
fi

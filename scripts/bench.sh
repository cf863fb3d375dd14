#!/usr/bin/env bash
# `make bench`: the benchmark suite of issue 4.
#
#   1. Redis and PostgreSQL as for `make test` (reused, started or installed);
#   2. release builds of verification, chat and the load tool (crates/loadtest);
#   3. a fresh database and its own REDIS_KEY_PREFIX, throwaway Ed25519 keys;
#   4. the verification service (mail to the load tool's SMTP receiver) and two
#      chat replicas, with the per-client limits raised (they are settings);
#   5. the scenarios: verify-send, verify-login, chat-quiet (a lone message to an
#      idle socket on the other replica: its latency), chat-fanout, chat-fanout-cluster
#      (the same run, on two more chat replicas against a 3-master, 3-replica Redis
#      Cluster that scripts/redis-cluster.sh starts for it and stops after it),
#      chat-fanout-mixed (every step alone and with read markers and typing, back
#      to back), chat-store, chat-idle (a fresh chat process, so its empty RSS is
#      a real baseline);
#   6. bench/results/<date>.md and .json, and the chat-fanout plot (.png).
# Everything it started is stopped on exit; all load goes to 127.0.0.1.
#
# Settings (environment): BENCH_SCENARIOS (default: all eight), BENCH_STEP (seconds
# per load step, 5), BENCH_MAX_LOAD / BENCH_WAIT (wait up to BENCH_WAIT seconds for
# the one-minute load average to drop below BENCH_MAX_LOAD; 1.0 / 600),
# BENCH_PORT_BASE (18080; the cluster's nodes take BENCH_PORT_BASE+10 .. +15 and
# their bus ports 10000 above), BENCH_SMTP_PORT (2526), BENCH_BIN_DIR (use the
# binaries already in this folder, e.g. an older build to compare with, instead of
# building).
set -euo pipefail

# shellcheck source=scripts/services.sh
source "$(dirname "${BASH_SOURCE[0]}")/services.sh"
cd "$ROOT"

SCENARIOS="${BENCH_SCENARIOS:-verify-send verify-login chat-quiet chat-fanout chat-fanout-cluster chat-fanout-mixed chat-store chat-idle}"
STEP="${BENCH_STEP:-5}"
MAX_LOAD="${BENCH_MAX_LOAD:-1.0}"
WAIT="${BENCH_WAIT:-600}"
PORT_BASE="${BENCH_PORT_BASE:-18080}"
SMTP_PORT="${BENCH_SMTP_PORT:-2526}"
VERIFY_PORT=$((PORT_BASE + 1))
CHAT_PORT_A=$((PORT_BASE + 2))
CHAT_PORT_B=$((PORT_BASE + 3))
CHAT_PORT_IDLE=$((PORT_BASE + 4))
CHAT_PORT_C=$((PORT_BASE + 5))
CHAT_PORT_D=$((PORT_BASE + 6))
CLUSTER_PORT=$((PORT_BASE + 10))

STAMP="$(date -u +%Y-%m-%d-%H%M)"
WORK="$ROOT/bench/tmp/$STAMP"
RESULTS="$ROOT/bench/results"
DB_NAME="chatverify_bench_$(date -u +%Y%m%d%H%M%S)"
BENCH_DATABASE_URL="${DATABASE_URL%/*}/$DB_NAME"
PREFIX="bench:$STAMP:"
BIN="${BENCH_BIN_DIR:-$ROOT/target/release}"
PIDS=()
NOTES=()

has() { [[ " $SCENARIOS " == *" $1 "* ]]; }
CLUSTER_DIR="$WORK/redis-cluster"
cluster() { REDIS_CLUSTER_PORT="$CLUSTER_PORT" REDIS_CLUSTER_DIR="$CLUSTER_DIR" bash scripts/redis-cluster.sh "$@"; }

cleanup() {
  trap - INT TERM EXIT
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  if [ -n "${DB_CREATED:-}" ]; then
    psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX*" 2>/dev/null \
      | xargs -r -n 1000 redis-cli -u "$REDIS_URL" unlink >/dev/null 2>&1 || true
  fi
  [ -n "${CLUSTER_STARTED:-}" ] && cluster stop
  stop_started
}
trap cleanup INT TERM EXIT

make_keys() {
  mkdir -p "$WORK/keys/private"
  openssl genpkey -algorithm ed25519 -out "$WORK/keys/private/bench.pem" 2>/dev/null
  openssl pkey -in "$WORK/keys/private/bench.pem" -pubout -out "$WORK/keys/bench.pem"
  openssl rand -hex 32 > "$WORK/keys/private/code_hash_key"
}

# Share of CPU time (percent, both cores) spent outside idle over two seconds:
# between scenarios our own services are idle, so this is other work.
busy_pct() {
  local a b
  read -ra a < /proc/stat; sleep 2; read -ra b < /proc/stat
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  local idle=$(( (b[4] - a[4]) + (b[5] - a[5]) ))
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}

# Waits (up to BENCH_WAIT seconds) for other work on the machine to stop: the
# 2 cores are shared, and a busy neighbour skews every figure. Before the first
# scenario the one-minute load average must also be below BENCH_MAX_LOAD.
wait_for_quiet() {
  local waited=0 busy load first="${2:-}"
  busy="$(busy_pct)"; load="$(cut -d' ' -f1 /proc/loadavg)"
  while { [ "$busy" -ge 25 ] || { [ -n "$first" ] && awk -v l="$load" -v m="$MAX_LOAD" 'BEGIN { exit !(l >= m) }'; }; } \
        && [ "$waited" -lt "$WAIT" ]; do
    [ "$waited" = 0 ] && log "waiting up to ${WAIT}s for other work to stop (CPU ${busy}% busy, load average $load)"
    sleep 13; waited=$((waited + 15)); busy="$(busy_pct)"; load="$(cut -d' ' -f1 /proc/loadavg)"
  done
  if [ "$busy" -ge 25 ]; then
    NOTES+=("The machine was busy with other work when $1 began (CPU ${busy}% busy before any load; other processes share the 2 cores): its figures are pessimistic.")
  elif [ -n "$first" ] && awk -v l="$load" -v m="$MAX_LOAD" 'BEGIN { exit !(l >= m) }'; then
    NOTES+=("The one-minute load average was $load (not below $MAX_LOAD) when the run began.")
  fi
}

# Refuses a port something else already listens on (a stale run, another service).
port_free() {
  ! port_open 127.0.0.1 "$1" || die "port $1 is already in use (set BENCH_PORT_BASE or BENCH_SMTP_PORT)"
}

wait_ready() {
  local port="$1" name="$2"
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "$name did not become ready on port $port; see $WORK/$name.log"
}

# Runs "$@" with the settings every service shares (Redis: SERVICE_REDIS_URL,
# default REDIS_URL); only ever called with `&`, and exec keeps $! the service's
# own pid.
common_env() {
  exec env REDIS_URL="${SERVICE_REDIS_URL:-$REDIS_URL}" DATABASE_URL="$BENCH_DATABASE_URL" REDIS_KEY_PREFIX="$PREFIX" \
    JWT_PUBLIC_KEYS="$WORK/keys/bench.pem" RUST_LOG="${BENCH_RUST_LOG:-warn}" LOG_FORMAT=json "$@"
}

start_verification() {
  port_free "$VERIFY_PORT"
  common_env LISTEN_ADDR="127.0.0.1:$VERIFY_PORT" \
    JWT_PRIVATE_KEY="$WORK/keys/private/bench.pem" CODE_HASH_KEY="$WORK/keys/private/code_hash_key" \
    MAIL_TRANSPORT="smtp://127.0.0.1:$SMTP_PORT" \
    SEND_LIMIT_PER_IP=1000000000 MAIL_CONCURRENCY="${BENCH_MAIL_CONCURRENCY:-16}" \
    "$BIN/verification" >"$WORK/verification.log" 2>&1 &
  VERIFY_PID=$!
  PIDS+=("$VERIFY_PID")
  wait_ready "$VERIFY_PORT" verification
}

# Starts a chat process on port $1 (name $2), against Redis at $3 (default
# REDIS_URL); its pid is left in CHAT_PID.
start_chat() {
  port_free "$1"
  SERVICE_REDIS_URL="${3:-$REDIS_URL}" common_env LISTEN_ADDR="127.0.0.1:$1" \
    CHAT_RATE=1000000 CHAT_BURST=1000000 "$BIN/chat" >"$WORK/$2.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_ready "$1" "$2"
  CHAT_PID="$pid"
}

# Stops one process this script started (SIGTERM, as Kubernetes would).
stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" != "$1" ] && kept+=("$pid"); done
  PIDS=("${kept[@]}")
}

# chat-fanout again, on two more chat replicas against a Redis Cluster of its
# own (3 masters, 3 replicas), all started here and stopped after the run.
fanout_on_cluster() {
  local p url pids=()
  for p in $(seq "$CLUSTER_PORT" $((CLUSTER_PORT + 5))); do port_free "$p"; port_free $((p + 10000)); done
  log "starting a Redis Cluster (3 masters, 3 replicas) on 127.0.0.1:$CLUSTER_PORT..$((CLUSTER_PORT + 5))"
  CLUSTER_STARTED=1
  url="$(cluster start)" || { NOTES+=("chat-fanout-cluster did not run: the Redis Cluster did not start"); return 0; }
  log "starting two chat replicas on 127.0.0.1:$CHAT_PORT_C and :$CHAT_PORT_D against $url"
  start_chat "$CHAT_PORT_C" chat-c "$url"; local chat_c="$CHAT_PID"
  start_chat "$CHAT_PORT_D" chat-d "$url"; local chat_d="$CHAT_PID"
  for p in "$CLUSTER_DIR"/*.pid; do pids+=(--cpu-pid "redis=$(cat "$p")"); done
  loadtest chat-fanout-cluster chat-fanout --name chat-fanout-cluster --label redis=cluster-3x2 \
    --url "ws://127.0.0.1:$CHAT_PORT_C,ws://127.0.0.1:$CHAT_PORT_D" --sockets 1000 --rooms 10 \
    --duration "${STEP}s" --cpu-pid "chat-c=$chat_c" --cpu-pid "chat-d=$chat_d" "${pids[@]}" "${TOKENS[@]}"
  stop_pid "$chat_c"; stop_pid "$chat_d"
  cluster stop; CLUSTER_STARTED=""
}

loadtest() {
  local name="$1"; shift
  wait_for_quiet "$name" "$( [ "${#REPORTS[@]}" = 0 ] && echo first )"
  log "scenario $name"
  "$BIN/loadtest" --out "$WORK/$name.json" "$@" 2> >(tee "$WORK/$name.err" >&2) \
    || { NOTES+=("$name did not complete: see bench/tmp/$STAMP/$name.err"); return 0; }
  REPORTS+=("$WORK/$name.json")
}

machine() {
  {
    echo "CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1), $(nproc) cores visible ($(lscpu | sed -n 's/^Thread(s) per core:[[:space:]]*//p') thread(s) per core)"
    echo "Memory: $(free -h | awk '/^Mem:/ {print $2}') total"
    echo "Kernel: $(uname -sr); $(rustc --version)"
    echo "Load tool, Redis and PostgreSQL on the same machine as the services"
    echo "Open-file limit per process: $(ulimit -n)"
  } > "$WORK/machine.txt"
}

mkdir -p "$WORK" "$RESULTS"
port_free "$SMTP_PORT"
ensure_redis
ensure_postgres
command -v psql >/dev/null || die "psql is needed: install postgresql-client"
command -v openssl >/dev/null || die "openssl is needed to make the benchmark keys"
command -v curl >/dev/null || die "curl is needed to probe readiness"

BINS=(--bin verification --bin loadtest)
CHAT_SCENARIOS=(chat-quiet chat-fanout chat-fanout-cluster chat-fanout-mixed chat-store chat-idle)
for s in "${CHAT_SCENARIOS[@]}"; do has "$s" && { BINS+=(--bin chat); break; }; done
if [ -z "${BENCH_BIN_DIR:-}" ]; then
  log "building release binaries"
  cargo build --release --locked "${BINS[@]}"
fi

# Idle sockets need file descriptors: take the hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
has chat-idle && [ "$(ulimit -n)" -lt 20200 ] && NOTES+=("The open-file limit is $(ulimit -n) and cannot be raised here (hard limit), so chat-idle holds fewer than 20,000 sockets.")

psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE \"$DB_NAME\"" >/dev/null
DB_CREATED=1
make_keys
machine
TOKENS=(--private-key "$WORK/keys/private/bench.pem" --public-keys "$WORK/keys/bench.pem")
REPORTS=()

log "starting verification on 127.0.0.1:$VERIFY_PORT (mail to the load tool's SMTP receiver)"
start_verification
if has chat-quiet || has chat-fanout || has chat-fanout-mixed || has chat-store; then
  log "starting two chat replicas on 127.0.0.1:$CHAT_PORT_A and :$CHAT_PORT_B"
  start_chat "$CHAT_PORT_A" chat-a; CHAT_A_PID="$CHAT_PID"
  start_chat "$CHAT_PORT_B" chat-b; CHAT_B_PID="$CHAT_PID"
fi
CHAT_URLS="ws://127.0.0.1:$CHAT_PORT_A,ws://127.0.0.1:$CHAT_PORT_B"

# CPU per operation of the service, Redis (when it runs here) and the database's
# PostgreSQL backends, read from /proc around every step.
CPU_ARGS=(--cpu-pid "verification=$VERIFY_PID" --cpu-postgres-db "$DB_NAME")
REDIS_PID="$(redis-cli -u "$REDIS_URL" info server 2>/dev/null | sed -n 's/^process_id://p' | tr -d '\r')"
[ -n "$REDIS_PID" ] && [ -e "/proc/$REDIS_PID" ] && CPU_ARGS+=(--cpu-pid "redis=$REDIS_PID")
if [ -n "${BENCH_BIN_DIR:-}" ] && ! "$BIN/loadtest" verify-login --help | grep -q cpu-pid; then CPU_ARGS=(); fi
has verify-send && loadtest verify-send verify-send \
  --url "http://127.0.0.1:$VERIFY_PORT" --smtp-listen "127.0.0.1:$SMTP_PORT" --duration "${STEP}s" "${CPU_ARGS[@]}"
has verify-login && loadtest verify-login verify-login \
  --url "http://127.0.0.1:$VERIFY_PORT" --smtp-listen "127.0.0.1:$SMTP_PORT" --duration "${STEP}s" "${CPU_ARGS[@]}"
# The chat-fanout runs watch the CPU of the chat replicas, Redis and the load tool.
FANOUT_CPU=()
if [ -n "${CHAT_A_PID:-}" ]; then
  FANOUT_CPU=(--cpu-pid "chat-a=$CHAT_A_PID" --cpu-pid "chat-b=$CHAT_B_PID")
  "$BIN/loadtest" chat-fanout --help | grep -q -- --cpu-postgres-db && FANOUT_CPU+=(--cpu-postgres-db "$DB_NAME")
  [ -n "$REDIS_PID" ] && [ -e "/proc/$REDIS_PID" ] && FANOUT_CPU+=(--cpu-pid "redis=$REDIS_PID")
fi
if [ -n "${BENCH_BIN_DIR:-}" ] && ! "$BIN/loadtest" chat-fanout --help | grep -q -- --mixed; then
  FANOUT_CPU=()
  { has chat-fanout-cluster || has chat-fanout-mixed; } && NOTES+=("The load tool in BENCH_BIN_DIR predates chat-fanout-cluster and chat-fanout-mixed: they were skipped.")
  SCENARIOS="${SCENARIOS//chat-fanout-cluster/}"; SCENARIOS="${SCENARIOS//chat-fanout-mixed/}"
  FANOUT_LABEL=()
else
  FANOUT_LABEL=(--label redis=single)
fi
# A lone message to an idle socket on the other replica, before any load.
has chat-quiet && loadtest chat-quiet chat-quiet --url "$CHAT_URLS" "${TOKENS[@]}"
# chat-fanout and chat-fanout-cluster run back to back: they are compared.
has chat-fanout && loadtest chat-fanout chat-fanout "${FANOUT_LABEL[@]}" \
  --url "$CHAT_URLS" --sockets 1000 --rooms 10 --duration "${STEP}s" "${FANOUT_CPU[@]}" "${TOKENS[@]}"
has chat-fanout-cluster && fanout_on_cluster
# BENCH_MIXED_ARGS adds load-tool options to it, e.g. "--mixed-frames typing
# --rate 100 --max-rate 100" (messages/s: 10,000 deliveries/s in rooms of 100) to
# see what one kind of frame costs at one rate; not --step, which the run sets.
# shellcheck disable=SC2086
# Steps of 5,000 deliveries/s (50 messages/s in rooms of 100): the criterion is
# 10 %, which steps of 10,000 cannot resolve at 50,000/s.
has chat-fanout-mixed && loadtest chat-fanout-mixed chat-fanout --mixed --label redis=single \
  --url "$CHAT_URLS" --sockets 1000 --rooms 10 --duration "${STEP}s" "${FANOUT_CPU[@]}" "${TOKENS[@]}" --step 50 \
  ${BENCH_MIXED_ARGS:-}
has chat-store && loadtest chat-store chat-store \
  --url "$CHAT_URLS" --duration "$((STEP * 2))s" --database-url "$BENCH_DATABASE_URL" "${TOKENS[@]}"
if has chat-idle; then
  log "starting a fresh chat process on 127.0.0.1:$CHAT_PORT_IDLE for chat-idle"
  start_chat "$CHAT_PORT_IDLE" chat-idle
  loadtest chat-idle chat-idle --url "ws://127.0.0.1:$CHAT_PORT_IDLE" --server-pid "$CHAT_PID" "${TOKENS[@]}"
fi

[ "${#REPORTS[@]}" -gt 0 ] || die "no scenario produced a report"
NOTE_ARGS=()
for n in "${NOTES[@]:-}"; do [ -n "$n" ] && NOTE_ARGS+=(--note "$n"); done
log "results: bench/results/$STAMP.md"
# A plot only for a run that has chat-fanout's figures to draw.
PLOT_ARGS=()
for r in "${REPORTS[@]}"; do
  [[ "$(basename "$r")" == chat-fanout* ]] && PLOT_ARGS=(--plot "$RESULTS/$STAMP-fanout.png")
done
"$BIN/loadtest" summarize "${REPORTS[@]}" --machine "$WORK/machine.txt" "${NOTE_ARGS[@]}" \
  --markdown "$RESULTS/$STAMP.md" --json-out "$RESULTS/$STAMP.json" "${PLOT_ARGS[@]}"

#!/usr/bin/env bash
# A throwaway Redis Cluster (3 masters, 3 replicas) from the installed
# redis-server, for the test pass that runs against a cluster:
#   scripts/redis-cluster.sh start   # prints the redis+cluster:// URL
#   scripts/redis-cluster.sh stop
# Nodes listen on 127.0.0.1 at REDIS_CLUSTER_PORT .. +5 (default 17000; their
# cluster bus ports are 10000 above), with their state under REDIS_CLUSTER_DIR
# (default .run/redis-cluster/, git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${REDIS_CLUSTER_DIR:-$ROOT/.run/redis-cluster}"
BASE="${REDIS_CLUSTER_PORT:-17000}"
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((BASE + i))); done

url() {
  local seeds=()
  for p in "${PORTS[@]}"; do seeds+=("127.0.0.1:$p"); done
  (IFS=,; echo "redis+cluster://${seeds[*]}")
}

stop() {
  for p in "${PORTS[@]}"; do
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$DIR"
}

start() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
    || { echo "redis-server and redis-cli are needed (apt-get install redis-server)" >&2; exit 1; }
  stop
  mkdir -p "$DIR"
  for p in "${PORTS[@]}"; do
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$DIR/nodes-$p.conf" --cluster-node-timeout 1000 \
      --save '' --appendonly no --dir "$DIR" --daemonize yes \
      --logfile "$DIR/$p.log" --pidfile "$DIR/$p.pid"
  done
  for p in "${PORTS[@]}"; do
    for _ in $(seq 1 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  local nodes=()
  for p in "${PORTS[@]}"; do nodes+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log"
  for _ in $(seq 1 300); do
    local ok=1
    for p in "${PORTS[@]}"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
      # A replica that has not finished its first sync could never take over.
      if redis-cli -p "$p" info replication 2>/dev/null | grep -q 'role:slave'; then
        redis-cli -p "$p" info replication | grep -q 'master_link_status:up' || ok=0
      fi
    done
    [ "$ok" = 1 ] && { url; return 0; }
    sleep 0.1
  done
  echo "the cluster never became ok; see $DIR" >&2
  exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac

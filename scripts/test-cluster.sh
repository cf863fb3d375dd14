#!/usr/bin/env bash
# The second pass of `make test`: the cross-replica chat tests and the
# verification code and token rules again, against a real Redis Cluster
# (3 masters, 3 replicas; scripts/redis-cluster.sh). The failover tests start
# clusters of their own and run in the first pass.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CARGO="${CARGO:-cargo}"

url="$(scripts/redis-cluster.sh start)"
trap 'scripts/redis-cluster.sh stop' EXIT
echo "==> tests against the Redis Cluster at $url" >&2
export TEST_REDIS_URL="$url"
"$CARGO" test --locked -p chat --test api -- \
  delivery:: fanout::messages_cross rooms:: presence::a_user presence::a_room_past
"$CARGO" test --locked -p verification --test api -- \
  confirm:: send:: client_limits:: tokens:: sessions:: account::

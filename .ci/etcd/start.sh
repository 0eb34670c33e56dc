#!/usr/bin/env bash
# Starts a throwaway single-member etcd on loopback and prints its client endpoint
# (127.0.0.1:PORT) on stdout, for the cluster tests (ENRICHER_TEST_ETCD) and for running
# `enricher serve` with cluster_provider=etcd.
#
#   endpoint=$(.ci/etcd/start.sh /tmp/etcd)   # DIR: a missing or empty directory; it holds everything
#   ENRICHER_TEST_ETCD=$endpoint go test ./cmd/enricher/ -run TestCluster
#   .ci/etcd/stop.sh /tmp/etcd                # stops etcd and removes DIR
#
# Client and peer URLs are on 127.0.0.1, on free ports. Needs Debian's `etcd-server` package.
set -euo pipefail
dir=${1:?usage: start.sh DIR}
command -v etcd >/dev/null || { echo "start.sh: etcd is not installed (apt-get install etcd-server)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
read -r client peer < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
nohup etcd --name ci --data-dir "$dir/data" \
  --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "ci=http://127.0.0.1:$peer" --unsafe-no-fsync >"$dir/etcd.log" 2>&1 &
echo $! >"$dir/etcd.pid"
for _ in $(seq 100); do
  if curl -fsS "http://127.0.0.1:$client/health" 2>/dev/null | grep -q '"health":"true"'; then
    echo "127.0.0.1:$client"
    exit 0
  fi
  sleep 0.1
done
cat "$dir/etcd.log" >&2
echo "start.sh: etcd did not become healthy" >&2
exit 1

#!/usr/bin/env bash
# Watch failover behind HAProxy (deploy/README.md): 3 identity replicas on 127.0.0.1:5601..5603 (metrics
# 9601..9603, preview pages 8801..8803, printed), Debian's haproxy with deploy/haproxy/haproxy.cfg on
# 127.0.0.1:5555, and streaming clients through it; r1 is killed after 20 s, r2 drained after 40 s. Once a second it
# prints each replica's sessions and every client's results per second. Loopback only; needs those ports free.
#   bash scripts/scale_demo.sh                      # 6 clients, 60 s
#   bash scripts/scale_demo.sh --clients 12 --seconds 90 --kill-after 30 --drain-after 60
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
exec "$PY" -m tests.scaleout.scale_demo "$@"

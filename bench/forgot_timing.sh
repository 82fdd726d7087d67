#!/usr/bin/env bash
# forgot_timing.sh measures whether "forgot password" answers a known
# address and an unknown one in the same time (no enumeration by timing).
#
# It builds the server, starts it on a free port with a temporary data
# directory (SQLite, the development mailer, access log off), registers
# ada@example.com, then sends N (default 400) POST /api/password/forgot on
# one keep-alive connection, alternating ada's address and fresh unknown
# ones, and prints p50/p90/p99 of each kind and their status codes.
#
# Usage, from anywhere in the checkout (needs go, python3):
#
#	bench/forgot_timing.sh
#	N=2000 bench/forgot_timing.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/hallpass" ./cmd/hallpass
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
HALLPASS_ADDR=127.0.0.1:$port HALLPASS_BASE_URL=$base HALLPASS_DATA="$tmp/data" HALLPASS_ACCESS_LOG=false \
  "$tmp/hallpass" serve >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -fs "$base/livez" >/dev/null 2>&1 && break; sleep 0.1; done
printf 'amber quartz lantern fjord 47\n' |
  HALLPASS_DATA="$tmp/data" "$tmp/hallpass" users add ada --email ada@example.com --password-stdin >/dev/null 2>&1
python3 - "$port" "${N:-400}" <<'PY'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
res = {"known": [], "unknown": []}
codes = {"known": {}, "unknown": {}}
for i in range(n):
    kind = "known" if i % 2 == 0 else "unknown"
    email = "ada@example.com" if kind == "known" else "nobody%d@example.com" % i
    t = time.perf_counter()
    c.request("POST", "/api/password/forgot", json.dumps({"email": email}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    res[kind].append((time.perf_counter() - t) * 1e6)
    codes[kind][r.status] = codes[kind].get(r.status, 0) + 1
for kind, v in res.items():
    v.sort()
    q = lambda p: v[min(len(v) - 1, int(len(v) * p))]
    print("%-8s n=%d p50=%.0f us p90=%.0f us p99=%.0f us status %s" % (kind, len(v), q(0.5), q(0.9), q(0.99), codes[kind]))
PY

#!/usr/bin/env bash
# flood.sh measures how a login flood slows the pages of signed-in users.
#
# It builds the server, starts it on a free port with a temporary data
# directory (SQLite sessions, the defaults), registers and logs in a user,
# then probes GET /dashboard with that user's cookie using hey (4
# connections, 25 req/s each), in turn quiet and while wrk (2 threads, 32
# connections) posts correct-password logins, ROUNDS times. It prints the
# p99 latency of each probe, then of all quiet and all flooded probes
# together (every latency hey recorded, to its 0.1 ms), their ratio
# and the successful logins per second during the floods, and stops
# everything it started. The flood logs in 32 users (added with "hallpass
# users add") in turn, so the login throttle, which counts attempts in
# flight per account, lets it through.
#
# The rounds alternate because a virtual machine's own pauses move a p99
# of a few milliseconds from one probe to the next by as much as the flood
# does: with quiet and flooded probes interleaved, both sample the same
# machine, and the pooled p99s rest on ROUNDS times as many requests.
#
# Usage, from anywhere in the checkout (needs go, curl, python3, wrk, hey):
#
#	bench/flood.sh                 # 3 rounds of 20 s quiet + 20 s flooded
#	ROUNDS=5 DURATION=10 bench/flood.sh
#	HALLPASS_HASH_CONCURRENCY=2 bench/flood.sh   # any server setting
#	PEER=http://127.0.0.1:8090/dashboard bench/flood.sh
#
# PEER names a page of another server (the bare net/http page of
# ../shared/bench/peers/bare, say) to probe alongside, the same way and at
# the same moments: its ratio is what the machine itself adds to a page
# that does no work while the flood runs (the hashes, wrk and hey share
# the cores), the floor under hallpass's.
#
# Machines shared with other work still give noisy figures: run it two or
# three times and compare the ratios.
set -euo pipefail

duration=${DURATION:-20}
rounds=${ROUNDS:-3}
for tool in go curl python3 wrk hey; do
	command -v "$tool" >/dev/null || { echo "flood.sh: $tool not found" >&2; exit 1; }
done

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
server_pid=
wrk_pid=
cleanup() {
	[ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null || true
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$root" && go build -o "$tmp/hallpass" ./cmd/hallpass)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
HALLPASS_ADDR="127.0.0.1:$port" HALLPASS_BASE_URL="$base" HALLPASS_DATA="$tmp/data" \
	HALLPASS_ACCESS_LOG=false HALLPASS_LOG_LEVEL=warn \
	"$tmp/hallpass" serve >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
	curl -fs "$base/healthz" >/dev/null 2>&1 && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
	sleep 0.1
done

# form JAR PATH FIELDS... posts the form at PATH with its csrf_token, using
# the cookie jar JAR, and prints the status code.
form() {
	local jar=$1 path=$2 token field args=()
	shift 2
	token=$(curl -fs -c "$jar" -b "$jar" "$base$path" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
	for field in "csrf_token=$token" "$@"; do
		args+=(--data-urlencode "$field")
	done
	curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" -H "Origin: $base" "${args[@]}" "$base$path"
}
# cookies JAR prints the Cookie header of the jar's cookies.
cookies() { awk -F'\t' 'NF >= 7 && $0 !~ /^# / {printf "%s%s=%s", sep, $6, $7; sep = "; "}' "$1"; }

password='correct horse battery staple'
users=32
for user in reader $(seq -f 'flood%g' "$users"); do
	echo "$password" | HALLPASS_DATA="$tmp/data" "$tmp/hallpass" users add "$user" --email "$user@example.com" --password-stdin \
		>"$tmp/cli.log" 2>&1 || { cat "$tmp/cli.log" >&2; exit 1; }
done
status=$(form "$tmp/reader.jar" /login "username=reader" "password=$password")
[ "$status" = 303 ] || { echo "flood.sh: login: HTTP $status" >&2; exit 1; }
reader_cookie=$(cookies "$tmp/reader.jar")

# The flood reuses one login form: its token and pre-session cookie.
token=$(curl -fs -c "$tmp/flood.jar" "$base/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
export FLOOD_COOKIE FLOOD_BODY FLOOD_ORIGIN="$base" FLOOD_USERS="$users"
FLOOD_COOKIE=$(cookies "$tmp/flood.jar")
FLOOD_BODY=username=flood%d\&$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlencode({"password": sys.argv[1], "csrf_token": sys.argv[2]}).replace("%", "%%"))' "$password" "$token")

# probe ROUND KIND probes GET /dashboard (and PEER, at the same time) for
# $duration seconds, keeps every latency in $tmp/KIND.ms (and
# $tmp/peer-KIND.ms), in milliseconds, one a line, and fails unless every
# answer was 200.
probe() {
	local peer_pid=
	if [ -n "${PEER:-}" ]; then
		hey -z "${duration}s" -c 4 -q 25 -disable-redirects -o csv "$PEER" >"$tmp/peer-$2-$1.csv" &
		peer_pid=$!
	fi
	hey -z "${duration}s" -c 4 -q 25 -disable-redirects -o csv -H "Cookie: $reader_cookie" "$base/dashboard" >"$tmp/$2-$1.csv"
	latencies "$tmp/$2-$1.csv" "$tmp/$2"
	if [ -n "$peer_pid" ]; then
		wait "$peer_pid"
		latencies "$tmp/peer-$2-$1.csv" "$tmp/peer-$2"
	fi
}

# latencies CSV PREFIX checks that every request of hey's CSV output got
# a 200 and writes its latencies, in milliseconds, to CSV.ms and appends
# them to PREFIX.ms.
latencies() {
	# Columns: response-time (s), DNS+dialup, DNS, request-write,
	# response-delay, response-read, status-code, offset.
	if ! awk -F, 'NR > 1 && $7 != 200 {bad++} NR > 1 {n++} END {exit !(n > 0 && !bad)}' "$1"; then
		echo "flood.sh: not every probe of $1 got a 200; status codes:" >&2
		awk -F, 'NR > 1 {print $7}' "$1" | sort | uniq -c >&2
		exit 1
	fi
	awk -F, 'NR > 1 {printf "%.3f\n", $1 * 1000}' "$1" | tee "$1.ms" >>"$2.ms"
}

# p99 FILE prints the 99th percentile (nearest rank) of the latencies in
# FILE and their count.
p99() {
	sort -n "$1" | awk '{v[NR] = $1} END {r = int(NR * 0.99 + 0.999999); printf "%.2f %d\n", v[r], NR}'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$tmp/quiet.ms"
: >"$tmp/flooded.ms"
: >"$tmp/peer-quiet.ms"
: >"$tmp/peer-flooded.ms"
ok=0
seconds=0
declare -A refused
for round in $(seq "$rounds"); do
	probe "$round" quiet
	wrk -t2 -c32 -d"$((duration + 4))s" -s "$root/bench/login.lua" "$base/login" >"$tmp/wrk.txt" 2>&1 &
	wrk_pid=$!
	sleep 2
	probe "$round" flooded
	wait "$wrk_pid"
	wrk_pid=
	n=$(awk '/^logins_ok/ {print $2}' "$tmp/wrk.txt")
	if [ -z "$n" ] || [ "$n" = 0 ]; then
		echo "flood.sh: no login succeeded during the flood:" >&2
		cat "$tmp/wrk.txt" >&2
		exit 1
	fi
	ok=$((ok + n))
	s=$(awk '/^seconds/ {print $2}' "$tmp/wrk.txt")
	seconds=$(awk -v a="$seconds" -v b="$s" 'BEGIN {print a + b}')
	for kind in throttled busy other; do
		refused[$kind]=$(( ${refused[$kind]:-0} + $(awk -v k="logins_$kind" '$1 == k {print $2}' "$tmp/wrk.txt") ))
	done
	read -r q _ < <(p99 "$tmp/quiet-$round.csv.ms")
	read -r f _ < <(p99 "$tmp/flooded-$round.csv.ms")
	peer=
	if [ -n "${PEER:-}" ]; then
		read -r pq _ < <(p99 "$tmp/peer-quiet-$round.csv.ms")
		read -r pf _ < <(p99 "$tmp/peer-flooded-$round.csv.ms")
		peer=$(awk -v q="$pq" -v f="$pf" 'BEGIN {printf "; peer %.2f -> %.2f ms, %.1f", q, f, f / q}')
	fi
	awk -v r="$round" -v q="$q" -v f="$f" -v n="$n" -v s="$s" -v peer="$peer" -v la="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
		printf "round %d: p99 quiet %.2f ms, flooded %.2f ms, ratio %.1f, %.1f logins/s%s (load average %s)\n", r, q, f, f / q, n / s, peer, la
	}'
done
read -r q qn < <(p99 "$tmp/quiet.ms")
read -r f fn < <(p99 "$tmp/flooded.ms")
echo "p99 quiet:   $q ms ($qn requests)"
echo "p99 flooded: $f ms ($fn requests)"
other="throttled ${refused[throttled]}, busy ${refused[busy]}, other ${refused[other]}"
awk -v q="$q" -v f="$f" -v ok="$ok" -v s="$seconds" -v other="$other" 'BEGIN {
	printf "ratio:       %.1f (p99 flooded / quiet)\n", f / q
	printf "logins/s:    %.1f (refused: %s)\n", ok / s, other
}'
if [ -n "${PEER:-}" ]; then
	read -r pq _ < <(p99 "$tmp/peer-quiet.ms")
	read -r pf _ < <(p99 "$tmp/peer-flooded.ms")
	awk -v q="$pq" -v f="$pf" -v peer="$PEER" 'BEGIN {
		printf "peer:        p99 quiet %.2f ms, flooded %.2f ms, ratio %.1f (%s)\n", q, f, f / q, peer
	}'
fi

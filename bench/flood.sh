#!/usr/bin/env bash
# flood.sh measures how a login flood slows the pages of signed-in users.
#
# It builds the server, starts it on a free port with a temporary data
# directory (SQLite sessions, the defaults), registers and logs in a user,
# then probes GET /dashboard with that user's cookie using hey (4
# connections, 25 req/s each) twice: quiet, and while wrk (2 threads, 32
# connections) posts correct-password logins of a second user. It prints
# the p99 latency of both probes, their ratio and the successful logins per
# second during the flood, and stops everything it started. The flood logs
# in 32 users (added with "hallpass users add") in turn, so the login
# throttle, which counts attempts in flight per account, lets it through.
#
# Usage, from anywhere in the checkout (needs go, curl, python3, wrk, hey):
#
#	bench/flood.sh                 # 20 s per probe
#	DURATION=10 bench/flood.sh     # shorter probes
#	HALLPASS_HASH_CONCURRENCY=2 bench/flood.sh   # any server setting
#
# Machines shared with other work give noisy figures: run it two or three
# times and compare the ratios.
set -euo pipefail

duration=${DURATION:-20}
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

# probe prints the p99 of GET /dashboard, in milliseconds, and fails
# unless every answer was 200.
probe() {
	hey -z "${duration}s" -c 4 -q 25 -disable-redirects -H "Cookie: $reader_cookie" "$base/dashboard" >"$tmp/hey.txt"
	if ! grep -q '^  \[200\]' "$tmp/hey.txt" || [ "$(grep -c '^  \[[0-9]*\]' "$tmp/hey.txt")" != 1 ]; then
		echo "flood.sh: /dashboard did not answer 200 to every probe:" >&2
		cat "$tmp/hey.txt" >&2
		exit 1
	fi
	awk '/ 99%+ in / {printf "%.2f", $3 * 1000}' "$tmp/hey.txt"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
quiet=$(probe)
echo "p99 quiet:   $quiet ms"

wrk -t2 -c32 -d"$((duration + 4))s" -s "$root/bench/login.lua" "$base/login" >"$tmp/wrk.txt" 2>&1 &
wrk_pid=$!
sleep 2
flooded=$(probe)
echo "p99 flooded: $flooded ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
wait "$wrk_pid"
wrk_pid=
ok=$(awk '/^logins_ok/ {print $2}' "$tmp/wrk.txt")
other=$(awk '/^logins_(throttled|busy|other)/ {printf "%s%s %s", sep, substr($1, 8), $2; sep = ", "}' "$tmp/wrk.txt")
seconds=$(awk '/^seconds/ {print $2}' "$tmp/wrk.txt")
if [ -z "$ok" ] || [ "$ok" = 0 ]; then
	echo "flood.sh: no login succeeded during the flood:" >&2
	cat "$tmp/wrk.txt" >&2
	exit 1
fi
awk -v q="$quiet" -v f="$flooded" -v ok="$ok" -v other="$other" -v s="$seconds" 'BEGIN {
	printf "ratio:       %.1f (p99 flooded / quiet)\n", f / q
	printf "logins/s:    %.1f (refused: %s)\n", ok / s, other
}'

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# metrics: {listen: ADDRESS:PORT} serves Prometheus text on /metrics:
# per-LUN counters that follow the commands sent, status and sense by
# kind, latency summaries, queue depth, lunar_up; 404 elsewhere; a
# scraper that never sends its request does not hold the listener.
source "$(dirname "$0")/lib.sh"

cp "$LUNAR_SOURCE_DIR/examples/hello.lua" "$TESTDIR/hello.lua"
write_file lunar.yaml <<'YAML'
metrics:
  listen: 127.0.0.1:0
luns:
  - name: m0
    transport: sim
    handler: hello.lua
    size: 1MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"
wait_for_log "metrics: http://127\.0\.0\.1:[0-9]+/metrics"
port=$(grep -oE "metrics: http://127\.0\.0\.1:[0-9]+/" "$LUNAR_LOG" | grep -oE "[0-9]+/$" | tr -d /)
[ "$port" -gt 0 ] || fail "no port in the log"

# get PATH: the HTTP response (head and body), over bash's /dev/tcp
get()
{
	local r

	exec 5<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to the metrics port"
	printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$1" >&5
	r=$(timeout 10 cat <&5) || fail "GET $1: no complete answer"
	exec 5<&-
	printf '%s\n' "$r" | tr -d '\r'
}
# metric TEXT NAME{LABELS}: its value
metric()
{
	awk -v k="$2" '$1 == k { print $2 }' <<<"$1"
}

for i in 1 2 3; do cdb m0 "$(cdb10 0x28 0 1)" --read 512; expect_good; done
cdb m0 c0000000000000000000
expect_sense 5 20 00
m=$(get /metrics)
head -1 <<<"$m" | grep -q "^HTTP/1.0 200 OK$" || fail "status line: $(head -1 <<<"$m")"
grep -q "^Content-Type: text/plain; version=0.0.4" <<<"$m" || fail "no Prometheus content type"
l='lun="m0",transport="sim"'
[ "$(metric "$m" "lunar_commands_total{$l}")" = 4 ] || fail "commands: $(grep commands_total <<<"$m")"
[ "$(metric "$m" "lunar_errors_total{$l}")" = 1 ] || fail "errors: $(grep errors_total <<<"$m")"
[ "$(metric "$m" "lunar_read_bytes_total{$l}")" = 1536 ] || fail "read bytes"
[ "$(metric "$m" "lunar_status_total{$l,status=\"check_condition\"}")" = 1 ] ||
	fail "status: $(grep status_total <<<"$m")"
[ "$(metric "$m" "lunar_sense_total{$l,sense=\"5/20/00\"}")" = 1 ] ||
	fail "sense: $(grep sense_total <<<"$m")"
[ "$(metric "$m" "lunar_up{$l}")" = 1 ] || fail "lunar_up"
[ "$(metric "$m" "lunar_queue_depth{$l}")" = 0 ] || fail "queue depth"
[ "$(metric "$m" "lunar_command_latency_seconds_count{$l,class=\"read\"}")" = 3 ] ||
	fail "latency count: $(grep latency <<<"$m")"
grep -qE "^lunar_command_latency_seconds\{$l,class=\"read\",quantile=\"0.99\"\} [0-9.]+$" <<<"$m" ||
	fail "no p99 for reads"
mem=$(metric "$m" "lunar_lua_memory_bytes{$l}")
[ "$mem" -gt 10000 ] || fail "Lua memory $mem"
grep -q "^# TYPE lunar_commands_total counter$" <<<"$m" || fail "no TYPE line"

get /nothing | head -1 | grep -q "^HTTP/1.0 404 Not Found$" || fail "/nothing is not 404"

# a silent client: the next scrape is still answered
exec 6<>"/dev/tcp/127.0.0.1/$port"
t0=$(_now_ms)
get /metrics | head -1 | grep -q "200 OK" || fail "a silent client blocked the listener"
exec 6<&-
echo "scrape after a silent client: $(( $(_now_ms) - t0 )) ms"

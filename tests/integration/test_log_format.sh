#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Structured logs: --log json writes one JSON object per line (a LUN's
# messages carry its name in "lun", bytes that are not UTF-8 become U+FFFD,
# newlines stay inside the string); --log journal speaks journald's native
# protocol (PRIORITY, SYSLOG_IDENTIFIER, LUNAR_LUN; a MESSAGE with a
# newline length-prefixed); --log auto picks the journal when stderr is it
# ($JOURNAL_STREAM); a bad --log is refused before anything starts.
source "$(dirname "$0")/lib.sh"

write_file talk.lua <<'LUA'
local lunar = require "lunar"
local M = {}
function M.open(lun)
   lunar.log(lun, "warn", "caf\233 \"quoted\"\nsecond line")
end
function M.command(lun, cmd)
   return cmd:good()
end
return M
LUA
sim_lun talk talk.lua

# ---- json
start_lunar "$TESTDIR/lunar.yaml" --log json
wait_for_log '"msg":"caf'
stop_lunar
[ "$LUNAR_EXIT" = 0 ] || fail "lunar exited $LUNAR_EXIT"
jq -e . "$LUNAR_LOG" >/dev/null || fail "a --log json line is not JSON: $(cat "$LUNAR_LOG")"
n_lines=$(wc -l <"$LUNAR_LOG")
n_objs=$(jq -c . "$LUNAR_LOG" | wc -l)
[ "$n_lines" = "$n_objs" ] || fail "$n_lines lines but $n_objs JSON objects"
msg=$(jq -r 'select(.lun == "talk" and .level == "warning") | .msg' "$LUNAR_LOG")
[ "$msg" = $'caf\xef\xbf\xbd "quoted"\nsecond line' ] ||
	fail "the handler's message came out as [$msg]"
jq -se 'map(select(.msg | test("^serving [0-9]+ LUN"))) | length == 1 and .[0].lun == null' \
	"$LUNAR_LOG" >/dev/null ||
	fail "a daemon-wide message has a lun field"
jq -re '.ts' "$LUNAR_LOG" | grep -qvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$' &&
	fail "a ts is not RFC 3339 UTC: $(jq -r .ts "$LUNAR_LOG" | head -3)"

# ---- journal, through a stand-in journald (a datagram socket of ours)
SINK=$LUNAR_SOURCE_DIR/tests/integration/dgram_sink.lua
sock=$TESTDIR/journal.sock
"$LUNAR" lua "$SINK" "$sock" "$TESTDIR/journal.bin" "$TESTDIR/journal.ready" "shutting down" &
jpid=$!
for _ in $(seq 200); do [ -f "$TESTDIR/journal.ready" ] && break; sleep 0.05; done
[ -f "$TESTDIR/journal.ready" ] || fail "the stand-in journald did not start"
: >"$LUNAR_LOG"
LUNAR_JOURNAL_SOCKET=$sock start_lunar "$TESTDIR/lunar.yaml" --log journal
stop_lunar
wait "$jpid" || fail "the stand-in journald failed"
[ -s "$LUNAR_LOG" ] && fail "with --log journal, stderr still got: $(cat "$LUNAR_LOG")"
j=$TESTDIR/journal.bin
grep -qa $'^SYSLOG_IDENTIFIER=lunar$' "$j" || fail "no SYSLOG_IDENTIFIER=lunar in the journal"
grep -qa $'^PRIORITY=4$' "$j" || fail "the warning did not go with PRIORITY=4"
grep -qa $'^LUNAR_LUN=talk$' "$j" || fail "no LUNAR_LUN=talk field"
grep -qa $'^MESSAGE=serving 1 LUN' "$j" || fail "the daemon's own message is missing: $(cat -v "$j")"
# MESSAGE\n, 64-bit little-endian length, the bytes, \n
want=$(printf 'caf\351 "quoted"\nsecond line' | od -An -tx1 | tr -d ' \n')
len=$(printf '%016x' $(( ${#want} / 2 )) | sed 's/../& /g' | awk '{for(i=8;i>=1;i--) printf "%s",$i}')
od -An -tx1 -v "$j" | tr -d ' \n' | grep -q "4d4553534147450a${len}${want}0a" ||
	fail "the two-line MESSAGE is not length-prefixed as journald's protocol asks"

# ---- auto: stderr is the journal when $JOURNAL_STREAM names it
"$LUNAR" lua "$SINK" "$sock.2" "$TESTDIR/journal2.bin" "$TESTDIR/journal2.ready" \
	"shutting down" &
jpid=$!
for _ in $(seq 200); do [ -f "$TESTDIR/journal2.ready" ] && break; sleep 0.05; done
: >"$LUNAR_LOG"
JOURNAL_STREAM=$(stat -c '%d:%i' "$LUNAR_LOG") LUNAR_JOURNAL_SOCKET=$sock.2 \
	start_lunar "$TESTDIR/lunar.yaml"
stop_lunar
wait "$jpid" || fail "the stand-in journald failed"
grep -qa '^LUNAR_LUN=talk$' "$TESTDIR/journal2.bin" || fail "--log auto did not pick the journal"
[ -s "$LUNAR_LOG" ] && fail "--log auto with the journal still wrote stderr"

# ---- refusals
: >"$LUNAR_LOG"
"$LUNAR" run "$TESTDIR/lunar.yaml" --ctl "$SOCK" --log xml 2>"$TESTDIR/err" && fail "--log xml was accepted"
grep -q "^lunar: --log must be text, json, journal or auto, not 'xml'$" "$TESTDIR/err" ||
	fail "--log xml: $(cat "$TESTDIR/err")"
LUNAR_JOURNAL_SOCKET=$TESTDIR/nobody "$LUNAR" run "$TESTDIR/lunar.yaml" --ctl "$SOCK" --log journal \
	2>"$TESTDIR/err" && fail "--log journal without journald was accepted"
grep -q "cannot reach journald" "$TESTDIR/err" || fail "--log journal: $(cat "$TESTDIR/err")"
echo "json, journal, auto and refusals as documented"

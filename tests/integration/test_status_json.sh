#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `lunarctl status --json` lists every LUN with name, transport, handler,
# state, commands and errors, and the counters follow the commands.
source "$(dirname "$0")/lib.sh"

write_file lunar.yaml <<YAML
version: 1
luns:
  - name: alpha
    transport: sim
    handler: $LUNAR_SOURCE_DIR/examples/hello.lua
    size: 1MiB
  - name: beta
    transport: sim
    handler: $LUNAR_SOURCE_DIR/examples/hello.lua
    size: 2MiB
    block_size: 4096
YAML
start_lunar "$TESTDIR/lunar.yaml"

json=$(status_json)
jq -e '.luns | length == 2' <<<"$json" >/dev/null || fail "expected 2 LUNs: $json"
jq -e '[.luns[].name] == ["alpha", "beta"]' <<<"$json" >/dev/null || fail "LUN names: $json"
jq -e 'all(.luns[]; (.name | type) == "string" and (.transport | type) == "string"
	and (.handler | type) == "string" and (.state | type) == "string"
	and (.commands | type) == "number" and (.errors | type) == "number")' \
	<<<"$json" >/dev/null || fail "a LUN lacks a field or has the wrong type: $json"
hello=$(cd "$LUNAR_SOURCE_DIR/examples" && pwd -P)/hello.lua
for lun in alpha beta; do
	expect_lun $lun transport sim
	expect_lun $lun handler "$hello"
	expect_lun $lun state serving
	expect_lun $lun commands 0
	expect_lun $lun errors 0
done
expect_lun beta size 2097152
expect_lun beta block_size 4096

# 3 commands to alpha, one of them failing; beta untouched
cdb alpha 000000000000
cdb alpha 25000000000000000000 --read 8
expect_data 000007ff00000200
cdb alpha a00000000000000001000000 --read 256
expect_sense 5 20 00
expect_lun alpha commands 3
expect_lun alpha errors 1
expect_lun alpha bytes_in 8
expect_lun beta commands 0
expect_lun beta errors 0

cdb beta 2a000000000000000100 --data-out-hex "$(random_hex 4096)"
expect_good
cdb beta 28000000020000000100 --read 4096
expect_sense 5 21 00
expect_lun beta commands 2
expect_lun beta errors 1
expect_lun beta bytes_out 4096
expect_lun alpha commands 3

# the text form names them too
lunarctl status >"$TESTDIR/status.txt"
grep -qE '^alpha +sim +serving +3 +1 ' "$TESTDIR/status.txt" ||
	fail "lunarctl status: $(cat "$TESTDIR/status.txt")"

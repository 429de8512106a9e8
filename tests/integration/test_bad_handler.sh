#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A handler whose open() fails leaves its LUN "failed" with the reason in
# `lunarctl status`; its commands get 2/04/03 NOT READY (MANUAL
# INTERVENTION REQUIRED) and the other LUNs of the daemon serve normally.
source "$(dirname "$0")/lib.sh"

write_file broken.lua <<'LUA'
local M = {}

function M.open(lun, args)
   local backing = args.backing_file
   lun.fd = backing:open()                -- args has no backing_file
end

function M.command(lun, cmd)
   return cmd:good()
end

return M
LUA
write_file lunar.yaml <<YAML
version: 1
luns:
  - name: broken
    transport: sim
    handler: broken.lua
    size: 1MiB
  - name: fine
    transport: sim
    handler: $LUNAR_SOURCE_DIR/examples/hello.lua
    size: 2MiB
YAML
start_lunar "$TESTDIR/lunar.yaml"

expect_lun broken state failed
msg=$(lun_field broken message)
grep -q "broken.lua:5: attempt to index local 'backing'" <<<"$msg" ||
	fail "status message of LUN broken does not say why: '$msg'"
expect_log "broken: handler .*broken.lua did not load: .*broken.lua:5:"

cdb broken 000000000000
expect_sense 2 04 03
cdb broken 28000000000000000100 --read 512
expect_sense 2 04 03
expect_data ""

expect_lun fine state serving
cdb fine 000000000000
expect_good
cdb fine 25000000000000000000 --read 8
expect_good
expect_data 00000fff00000200
data=$(random_hex 512)
cdb fine 2a000000000500000100 --data-out-hex "$data"
expect_good
cdb fine 28000000000500000100 --read 512
expect_data "$data"

expect_lun broken commands 2
expect_lun broken errors 2
expect_lun fine errors 0

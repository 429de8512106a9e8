#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# What an initiator set with MODE SELECT on a lunar.disk LUN (write cache
# off, descriptor sense, software write protect) and the unit attention it
# has not yet seen survive a reload of the handler: the new generation
# answers as the old one would have.  The handler's own export()/import()
# still go across beside them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file keep.lua <<'LUA'
local ram = require "lunar.backend.ram"
local M = {}
M.open, M.read, M.write, M.resize = ram.open, ram.read, ram.write, ram.resize
function M.flush() end
local seen = 0
function M.export(lun) return { seen = seen + 1 } end
function M.import(lun, t) seen = t.seen end
function M.check(lun) end
return M
LUA
write_file lunar.yaml <<'YAML'
luns:
  - name: d0
    transport: sim
    handler: keep.lua
    size: 1MiB
    args: { write_cache: true }
YAML
start_lunar "$TESTDIR/lunar.yaml"

# write cache off, descriptor sense, software write protect
cdb d0 151000001800 --data-out-hex "00000000 0812 $(zeros_hex 18)"
expect_good
cdb d0 151000001000 --data-out-hex "00000000 0a0a 06 10 08000000 ffff 0000"
expect_good
lunarctl reload d0 >/dev/null || fail "reload failed"
cdb d0 1a080800ff00 --read 255
expect_data "17009000 0812 $(zeros_hex 18)"   # WP (from SWP) + DPOFUA; WCE off
cdb d0 "$(cdb10 0x2a 0 1)" --data-out-hex "$(zeros_hex 512)"
expect_sense 7 27 00
expect_sense_data 7207270000000000
# and back: SWP off, fixed sense, the write goes through
cdb d0 151000001000 --data-out-hex "00000000 0a0a 02 10 00000000 ffff 0000"
expect_good
cdb d0 "$(cdb10 0x2a 0 1)" --data-out-hex "$(zeros_hex 512)"
expect_good

# a capacity change announced just before a reload is still reported once
sed -i 's/size: 1MiB/size: 2MiB/' "$TESTDIR/lunar.yaml"
kill -HUP "$LUNAR_PID"
wait_for_log "configuration reloaded"
lunarctl reload d0 >/dev/null || fail "reload failed"
cdb d0 000000000000
expect_sense 6 2a 09
cdb d0 000000000000
expect_good

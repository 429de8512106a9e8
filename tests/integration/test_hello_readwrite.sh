#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# WRITE(10) then READ(10) of the same blocks return the bytes written: one
# block from a file (--data-out) and from hex (--data-out-hex), several
# blocks at once, the last LBA; beyond the end is 5/21/00.
source "$(dirname "$0")/lib.sh"

start_lunar "$LUNAR_SOURCE_DIR/config.yaml"
last=131071     # 64MiB in 512-byte blocks

# one block from a file
head -c 512 /dev/urandom >"$TESTDIR/block"
cdb hello0 "$(cdb10 0x2a 100 1)" --data-out "$TESTDIR/block"
expect_good
cdb hello0 "$(cdb10 0x28 100 1)" --read 512
expect_good
expect_data "$(hex_of "$TESTDIR/block")"
expect_residual 0

# one block from hex, next to it: the first one is untouched
data=$(random_hex 512)
cdb hello0 "$(cdb10 0x2a 101 1)" --data-out-hex "$data"
expect_good
cdb hello0 "$(cdb10 0x28 101 1)" --read 512
expect_data "$data"
cdb hello0 "$(cdb10 0x28 100 1)" --read 512
expect_data "$(hex_of "$TESTDIR/block")"

# 64 blocks (32KiB: several sim data blocks) in one command, read back
# whole and in part
head -c $((64 * 512)) /dev/urandom >"$TESTDIR/blocks"
cdb hello0 "$(cdb10 0x2a 2000 64)" --data-out "$TESTDIR/blocks"
expect_good
cdb hello0 "$(cdb10 0x28 2000 64)" --read $((64 * 512))
expect_good
expect_data "$(hex_of "$TESTDIR/blocks")"
cdb hello0 "$(cdb10 0x28 2010 2)" --read 1024
expect_data "$(tail -c +$((10 * 512 + 1)) "$TESTDIR/blocks" | head -c 1024 | od -An -v -tx1)"

# the last LBA
data=$(random_hex 512)
cdb hello0 "$(cdb10 0x2a $last 1)" --data-out-hex "$data"
expect_good
cdb hello0 "$(cdb10 0x28 $last 1)" --read 512
expect_good
expect_data "$data"

# past the end: one block beyond, and a transfer running over it
cdb hello0 "$(cdb10 0x28 $((last + 1)) 1)" --read 512
expect_sense 5 21 00
expect_data ""
cdb hello0 "$(cdb10 0x28 $((last - 1)) 4)" --read 2048
expect_sense 5 21 00
cdb hello0 "$(cdb10 0x2a $((last + 1)) 1)" --data-out-hex "$(random_hex 512)"
expect_sense 5 21 00

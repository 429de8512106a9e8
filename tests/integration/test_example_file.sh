#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# examples/file.lua (lunar.backend.file): what is written is in the file
# at offset LBA x 512 and still there after a restart; create: true makes
# a sparse file of the LUN's size; UNMAP punches a hole (the file takes
# less space, the range reads zeros, LBPRZ); SYNCHRONIZE CACHE and FUA
# are fdatasync; a missing file without create fails the LUN with a
# message naming it, the others keep serving.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

img=$TESTDIR/disk.img
write_file lunar.yaml <<YAML
luns:
  - {name: f0, transport: sim, handler: $EXAMPLES/file.lua, size: 16MiB, args: {path: $img, create: true}}
  - {name: f1, transport: sim, handler: $EXAMPLES/file.lua, size: 16MiB, args: {path: $TESTDIR/nope.img}}
YAML
start_lunar "$TESTDIR/lunar.yaml"

[ "$(stat -c %s "$img")" -eq $((16 << 20)) ] || fail "create: the file is $(stat -c %s "$img") bytes"
expect_lun f1 state failed
lun_field f1 message | grep -q "cannot open $TESTDIR/nope.img: No such file" ||
	fail "f1's failure does not name the file: $(lun_field f1 message)"

head -c 1048576 /dev/urandom >"$TESTDIR/mib"
cdb f0 "$(cdb10 0x2a 4096 2048)" --data-out "$TESTDIR/mib"
expect_good
cmp <(dd if="$img" bs=512 skip=4096 count=2048 status=none) "$TESTDIR/mib" ||
	fail "the file does not hold the written data at LBA 4096"
cdb f0 "$(cdb16 0x8a 0 1 0x08)" --data-out-hex "$(repeat_hex 42 512)"
expect_good
cdb f0 "$(cdb10 0x35 0 0)"
expect_good

stop_lunar
start_lunar "$TESTDIR/lunar.yaml"
cdb f0 "$(cdb10 0x28 4096 2048)" --read 1048576
expect_good
expect_data "$(hex_of "$TESTDIR/mib")"

# thin: UNMAP punches a hole
cdb f0 1201b2ff0000 --read 255
expect_data 00b2000400e40200
before=$(stat -c %b "$img")
cdb f0 42000000000000001800 --data-out-hex "0016001000000000 0000000000001000 0000080000000000"
expect_good
after=$(stat -c %b "$img")
[ "$after" -lt "$before" ] || fail "UNMAP did not free space in the file ($before -> $after blocks)"
cdb f0 "$(cdb10 0x28 4096 8)" --read 4096
expect_data "$(zeros_hex 4096)"
cdb f0 "$(cdb10 0x28 0 1)" --read 512
expect_data "$(repeat_hex 42 512)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lunar.disk device identifiers: the serial (VPD 80) is the LUN's name
# unless args.serial sets one; the NAA 6 designator (VPD 83) follows the
# serial, so it is the same after a restart and differs between LUNs; a
# serial with 25 or more hex digits (a UUID, as LIO's vpd_unit_serial)
# gives exactly LIO's NAA 6 identifier, so a LUN keeps its WWID when it
# moves between LIO and lunar.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file lunar.yaml <<YAML
luns:
  - {name: disk-7, transport: sim, handler: $EXAMPLES/ramdisk.lua, size: 1MiB}
  - {name: disk-8, transport: sim, handler: $EXAMPLES/ramdisk.lua, size: 1MiB}
  - name: uuid
    transport: sim
    handler: $EXAMPLES/ramdisk.lua
    size: 1MiB
    args: { serial: 6a0c2b0e-9d4f-4e7d-8c1f-0a9b8c7d6e5f }
YAML
start_lunar "$TESTDIR/lunar.yaml"

name_hex=$(printf 'disk-7' | od -An -tx1 | tr -d ' \n')
cdb disk-7 120180ff0000 --read 255
expect_data 00800006$name_hex

naa() {
	cdb "$1" 120183ff0000 --read 255
	expect_good
	expect_data_bytes 4 01030010
	_field .data | cut -c 17-48
}
a=$(naa disk-7)
b=$(naa disk-8)
[ "${a:0:7}" = 6001405 ] || fail "NAA of disk-7 is $a: not NAA 6 with OUI 00-14-05"
[ "$a" != "$b" ] || fail "disk-7 and disk-8 have the same NAA identifier $a"

# LIO: NAA 6, OUI 001405, then the serial's first 25 hex digits
[ "$(naa uuid)" = 60014056a0c2b0e9d4f4e7d8c1f0a9b8 ] || fail "uuid: NAA $(naa uuid), not LIO's"

stop_lunar
start_lunar "$TESTDIR/lunar.yaml"
[ "$(naa disk-7)" = "$a" ] || fail "disk-7's NAA changed across a restart: $a, then $(naa disk-7)"

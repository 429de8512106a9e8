#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# REPORT SUPPORTED OPERATION CODES on lunar.disk lists exactly what it
# answers, from the same table that checks the CDBs: all commands (8-byte
# descriptors; with RCTD 20-byte ones with a timeouts descriptor of length
# 0Ah); one command with its CDB usage data (READ(10): DPO/FUA bits set);
# service-action commands only through reporting option 2 (RC16: 9E/10);
# option 1 for an opcode with service actions, or 2 for one without, is
# 5/24/00; an unsupported command is SUPPORT=001b.  Every listed command
# is answered: none of them gets 5/20/00.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

disk_config d0 ramdisk.lua 1MiB
start_lunar "$TESTDIR/lunar.yaml"

cdb d0 a30c00000000000010000000 --read 4096
expect_good
all=$(_field .data)
len=$((16#${all:0:8}))
[ $((len % 8)) -eq 0 ] && [ $((len + 4)) -eq $((${#all} / 2)) ] || fail "RSOC: length $len for ${#all} hex digits"
ops=""
for ((o = 8; o < ${#all}; o += 16)); do
	d=${all:$o:16}
	ops="$ops ${d:0:2}${d:4:4}/${d:10:2}/${d:12:4}"
done
want=" 000000/00/0006 030000/00/0006 080000/00/0006 0a0000/00/0006 120000/00/0006 150000/00/0006"
want="$want 1a0000/00/0006 1b0000/00/0006 250000/00/000a 280000/00/000a 2a0000/00/000a"
want="$want 2e0000/00/000a 2f0000/00/000a 350000/00/000a 410000/00/000a 420000/00/000a"
want="$want 550000/00/000a 5a0000/00/000a 880000/00/0010 890000/00/0010 8a0000/00/0010"
want="$want 8e0000/00/0010 8f0000/00/0010 910000/00/0010 930000/00/0010 9e0010/01/0010"
want="$want a00000/00/000c a3000c/01/000c a80000/00/000c aa0000/00/000c ae0000/00/000c"
want="$want af0000/00/000c"
[ "$ops" = "$want" ] || fail "RSOC lists$ops, expected$want"

# RCTD: 20-byte descriptors with CTDP and a 0Ah-long timeouts descriptor
cdb d0 a30c80000000000010000000 --read 4096
expect_good
expect_data_bytes 0 $(printf '%08x' $((len / 8 * 20)))
expect_data_bytes 4 0000000000020006000a

# one command: READ(10) with its usage data
cdb d0 a30c01280000000001000000 --read 256
expect_good
expect_data 0003000a281affffffff3fffff00
cdb d0 a30c81280000000001000000 --read 256
expect_data 0083000a281affffffff3fffff00000a00000000000000000000
# WRITE SAME(10): UNMAP bit usable (thin); ANCHOR is not
cdb d0 a30c01410000000001000000 --read 256
expect_data 0003000a4108ffffffff3fffff00
# service actions
cdb d0 a30c029e0010000001000000 --read 256
expect_data 000300109e10ffffffffffffffffffffffff0100
cdb d0 a30c019e0000000001000000 --read 256
expect_sense 5 24 00
cdb d0 a30c02280000000001000000 --read 256
expect_sense 5 24 00
cdb d0 a30c029e0012000001000000 --read 256
expect_data 00010000
cdb d0 a30c01340000000001000000 --read 256
expect_good
expect_data 00010000
cdb d0 a30c07000000000001000000 --read 256
expect_sense 5 24 00

# every 8/10/12/16-byte listed opcode is answered (anything but 5/20/00)
for op in $(for o in $ops; do echo "${o:0:2}"; done | sort -u); do
	case $((16#$op >> 5)) in
	0) c=${op}0000000000 ;;
	1 | 2) c=${op}000000000000000000 ;;
	4) c=${op}000000000000000000000000000000 ;;
	5) c=${op}0000000000000000000000 ;;
	esac
	[ "$op" != 9e ] || c=9e100000000000000000000000000000
	[ "$op" != a3 ] || c=a30c00000000000000000000
	RESULT=$(cdb_json d0 "$c")
	s=$(_sense_kcq || true)
	[ "$s" != "5 20 00" ] || fail "opcode $op is listed but answered 5/20/00"
done

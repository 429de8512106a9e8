# SPDX-License-Identifier: MIT
#
# disk.sh: helpers for the lunar.disk, backend, filter and example tests;
# sourced after lib.sh.
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/disk.sh"
#   disk_config d0 ramdisk.lua 1MiB 'serial: t0'
#   start_lunar "$TESTDIR/lunar.yaml"

EXAMPLES=$LUNAR_SOURCE_DIR/examples

# disk_config NAME HANDLER SIZE [ARGS [EXTRA [BLOCK_SIZE]]]: $TESTDIR/lunar.yaml
# with one sim LUN.  HANDLER: a file in examples/ or an absolute path;
# ARGS: the inside of an args: {} mapping; EXTRA: more YAML lines for the
# LUN (e.g. filters), indented by 4.
disk_config()
{
	local name=$1 handler=$2 size=$3 args=${4-} extra=${5-} bs=${6:-512}

	[[ $handler == /* ]] || handler=$EXAMPLES/$handler
	{
		echo "luns:"
		echo "  - name: $name"
		echo "    transport: sim"
		echo "    handler: $handler"
		echo "    size: $size"
		echo "    block_size: $bs"
		echo "    args: { $args }"
		[ -z "$extra" ] || printf '%s\n' "$extra"
	} >"$TESTDIR/lunar.yaml"
}

# cdb6 OP LBA BLOCKS [BYTE1-EXTRA]: READ(6)/WRITE(6)-style CDB.
cdb6()
{
	printf '%02x%02x%04x%02x00' $(($1)) $((($2 >> 16 & 0x1f) | ${4:-0})) $(($2 & 0xffff)) $(($3))
}

# cdb10x OP LBA BLOCKS BYTE1: a 10-byte CDB with byte 1 set.
cdb10x()
{
	printf '%02x%02x%08x00%04x00' $(($1)) $(($4)) "$2" "$3"
}

# cdb12 OP LBA BLOCKS [BYTE1]
cdb12()
{
	printf '%02x%02x%08x%08x0000' $(($1)) $((${4:-0})) "$2" "$3"
}

# cdb16 OP LBA BLOCKS [BYTE1]: LBA as a decimal or 0x number up to 2^63-1,
# or a 16-digit hex string prefixed with 'x' (x8000000000000000).
cdb16()
{
	local lba

	if [[ $2 == x* ]]; then lba=${2#x}; else lba=$(printf '%016x' "$2"); fi
	printf '%02x%02x%s%08x0000' $(($1)) $((${4:-0})) "$lba" "$3"
}

# repeat_hex BYTE N: BYTE (two hex digits) N times.
repeat_hex()
{
	printf "%0$(($2 * 2))d" 0 | sed "s/00/$1/g"
}

# expect_info N: the sense's INFORMATION (fixed format, VALID set) is N.
expect_info()
{
	local s

	s=$(_field .sense)
	case ${s:0:2} in
	f0 | f1) [ $((16#${s:6:8})) -eq $(($1)) ] || _mismatch "INFORMATION is $((16#${s:6:8})), expected $(($1))" ;;
	72 | 73) [ "${s:16:4}" = 000a ] && [ $((16#${s:24:16})) -eq $(($1)) ] ||
		_mismatch "descriptor INFORMATION is not $(($1))" ;;
	*) _mismatch "no valid INFORMATION (expected $(($1)))" ;;
	esac
}

# expect_field_pointer SKS: fixed sense bytes 15-17 (SKSV, C/D, BPV, bit,
# field pointer), e.g. c00002 = CDB byte 2, cd0001 = CDB byte 1 bit 5.
expect_field_pointer()
{
	expect_sense_bytes 15 "$1"
}

# clear_ua LUN: TEST UNIT READY until GOOD (at most 4 times).
clear_ua()
{
	local i

	for i in 1 2 3 4; do
		RESULT=$(cdb_json "$1" 000000000000)
		[ "$(_field .status)" -ne 0 ] || return 0
	done
	fail "$1: TEST UNIT READY never came back GOOD"
}

# cache_handler FILE: writes $TESTDIR/FILE, a RAM disk with a volatile
# "cache": its flush op logs "flush OFFSET LENGTH", so tests see when
# lunar.disk flushes (SYNCHRONIZE CACHE, FUA, write-through, stop).
cache_handler()
{
	write_file "$1" <<'LUA'
local lunar = require "lunar"
local ram = require "lunar.backend.ram"
local M = {}
M.open, M.read, M.write, M.unmap = ram.open, ram.read, ram.write, ram.unmap
function M.flush(lun, cmd, offset, length)
   lunar.log(lun, "flush %d %d", offset, length)
end
return M
LUA
}

# flushes: how many "flush" lines the daemon has logged.
flushes()
{
	grep -c ': flush [0-9]' "$LUNAR_LOG" || true
}

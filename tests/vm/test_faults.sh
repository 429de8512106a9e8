#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Reload and fault containment against the real kernel (issue 6's
# acceptance), one boot:
#  1. fio's verified random writes run on while the handler is reloaded
#     100 times, 30 of the reloads broken on purpose (a syntax error,
#     open() raising, open() looping forever): zero I/O errors, every
#     block verifies, each broken reload is reported and the old
#     generation serves on.
#  2. a handler whose READ of one block spins forever: that READ fails
#     after the LUN's deadline, the LUN serves again by itself, and
#     another LUN's IOPS while the spin goes on are measured against its
#     IOPS before (the spinning thread is moved to SCHED_IDLE).
#  3. `lunarctl trace` shows what Linux sends when the disk attaches
#     (the device is deleted and the host rescanned while tracing).
source "$(dirname "$0")/lib.sh"
vm_setup

cp "$LUNAR_SOURCE_DIR/examples/ramdisk.lua" "$T/disk.lua"
cp "$T/disk.lua" "$T/disk.good"
cat >"$T/spin.lua" <<'EOF'
-- a RAM disk whose READ of block 5000 never returns
local lunar = require "lunar"
local M = {}
function M.open(lun)
   lun.ram = lunar.mem(lun, "ram", lun.size)
end
function M.read(lun, cmd, offset, length)
   if offset == 5000 * 512 then
      local x = 0
      while true do x = x + 1 end
   end
   cmd:data_in(lun.ram + offset, length)
end
function M.write(lun, cmd, offset, length)
   cmd:data_out(lun.ram + offset, length)
end
return M
EOF
write_config faults.yaml <<EOF
version: 1
reload_timeout: 3s
luns:
  - name: disk0
    transport: tcmu
    handler: $T/disk.lua
    size: 64MiB
    tcmu: { create: true }
  - name: spin0
    transport: tcmu
    handler: $T/spin.lua
    size: 8MiB
    deadline: 3s
    tcmu: { create: true }
EOF
start_lunar "$T/faults.yaml"
dev=$(wait_disk disk0) || { fail "no /dev/sdX for disk0"; finish; }
spin=$(wait_disk spin0) || { fail "no /dev/sdX for spin0"; finish; }
say "disk0 is $dev, spin0 is $spin"

# ---- 1. 100 reloads under verified I/O --------------------------------------------------
# fio in rounds (write all, then verify all) until the reloads are done
: >"$T/fio.rc"
(
	r=0
	while [ ! -e "$T/stop" ]; do
		r=$((r + 1))
		fio --name=rl --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite \
			--bs=4k --iodepth=8 --size=16M --offset=$(( (r % 3) * 16 ))M \
			--verify=crc32c --verify_fatal=1 --randseed=$r --eta=never \
			--output="$T/fio.$r.txt"
		echo "$r $?" >>"$T/fio.rc"
	done
) &
fio_loop=$!
wait_until 60 test -s "$T/fio.1.txt" || true

good=0 broken=0 reported=0
for i in $(seq 1 100); do
	case $((i % 10)) in
	3) echo "local M = {" >"$T/disk.lua" ;;                                    # syntax
	6) sed 's/^function M.open(lun, args)$/function M.open(lun, args) error("open refuses")/' \
		"$T/disk.good" >"$T/disk.lua" ;;
	9) sed 's/^function M.open(lun, args)$/function M.open(lun, args) while true do end/' \
		"$T/disk.good" >"$T/disk.lua" ;;
	*) { cat "$T/disk.good"; echo "-- reload $i"; } >"$T/disk.lua" ;;
	esac
	if lunarctl reload disk0 >"$T/reload.out" 2>&1; then
		case $((i % 10)) in 3|6|9) fail "broken reload $i was accepted: $(cat "$T/reload.out")" ;; esac
		good=$((good + 1))
	else
		broken=$((broken + 1))
		case $((i % 10)) in
		3) why="unexpected symbol near" ;;
		6) why="open refuses" ;;
		9) why="did not return within 3000 ms" ;;
		*) why="(a good handler)" ;;
		esac
		grep -q "disk0: reload failed, the previous handler keeps serving: .*$why" "$T/reload.out" &&
			reported=$((reported + 1))
		[ "$(lun_json disk0 state)" = serving ] || fail "after broken reload $i disk0 is $(lun_json disk0 state)"
	fi
done
cp "$T/disk.good" "$T/disk.lua"
touch "$T/stop"
wait "$fio_loop"
rounds=$(wc -l <"$T/fio.rc")
bad=$(awk '$2 != 0' "$T/fio.rc" | wc -l)
check "100 reloads: 70 taken, the 30 broken ones refused ($good taken, $broken refused)" \
	test "$good" = 70 -a "$broken" = 30
check "each broken reload said why ($reported of 30)" test "$reported" = 30
check "fio: $rounds verified rounds across the reloads, none failed" test "$bad" = 0 -a "$rounds" -ge 1
check "no I/O error in the kernel log" bash -c "! dmesg | grep -qiE 'I/O error|critical medium|blk_update_request'"
check "disk0 counted 70 reloads" test "$(lunarctl stats disk0 --json | jq .luns[0].reloads)" -ge 70
say "     $(grep -h 'write: IOPS' "$T"/fio.*.txt | head -n 1 | sed 's/^ *//')"

# ---- 2. a READ that spins forever ---------------------------------------------------------
iops()	# FILE: fio's read IOPS from its JSON output
{
	jq '.jobs[0].read.iops | floor' "$1"
}
fio_read()	# OUT: 8 s of 4 KiB random reads on disk0
{
	fio --name=iso --filename="$dev" --ioengine=libaio --direct=1 --rw=randread --bs=4k \
		--iodepth=8 --size=32M --runtime=8 --time_based --eta=never \
		--output-format=json --output="$1"
}
fio_read "$T/before.json"
(
	t0=$(_now)
	dd if="$spin" of=/dev/null bs=512 skip=5000 count=1 iflag=direct 2>"$T/dd.err"
	echo "$? $(( ($(_now) - t0) * 10 ))" >"$T/dd.rc"
) &
dd_pid=$!
wait_until 20 log_has "spin0: its handler ran past the 3.0s deadline" ||
	fail "the spinning handler was not declared wedged"
fio_read "$T/during.json"
wait "$dd_pid"
read -r dd_rc t_dd <"$T/dd.rc"
check "the spinning READ failed back to dd after ${t_dd} ms (deadline 3 s)" \
	test "$dd_rc" -ne 0 -a "$t_dd" -lt 8000
check "dd saw an I/O error" grep -qi "error" "$T/dd.err"
check "the log names the command it wedged on (4/44/00)" log_has "spin0: the command the handler wedged on"
check "spin0 serves again by itself" sg_turs "$spin"
check "spin0 reads another block" dd if="$spin" of=/dev/null bs=512 skip=10 count=1 iflag=direct status=none
before=$(iops "$T/before.json") during=$(iops "$T/during.json")
say "     disk0 4 KiB randread QD8: $before IOPS before, $during IOPS while spin0's handler spins"
# TCG's timing wobbles by 10-15 % between runs: the bound is loose on
# purpose; the measured ratio is what the log shows
check "disk0's IOPS while spin0 spins are at least 0.7x its IOPS before" \
	test "$during" -ge $(( before * 7 / 10 ))

# ---- 3. the probe sequence --------------------------------------------------------------------
host=$(readlink -f "/sys/block/${dev#/dev/}/device" | grep -oE 'host[0-9]+' | head -n 1)
lunarctl trace disk0 >"$T/trace.txt" 2>&1 &
tracer=$!
wait_until 10 grep -q "^tracing disk0" "$T/trace.txt" || fail "trace did not start"
echo 1 >"/sys/block/${dev#/dev/}/device/delete"
echo "- - -" >"/sys/class/scsi_host/$host/scan"
dev2=$(wait_disk disk0) || fail "disk0 did not come back after the rescan"
sleep 2
kill "$tracer" 2>/dev/null
wait "$tracer" 2>/dev/null
say "     what Linux sent as disk0 attached ($(grep -c -- '->' "$T/trace.txt") commands):"
grep -- '->' "$T/trace.txt" | sed 's/^/     | /' | head -n 40
check "trace: INQUIRY" grep -qE " INQUIRY -> GOOD" "$T/trace.txt"
check "trace: INQUIRY for VPD pages" grep -qE " INQUIRY VPD 0x[0-9a-f]{2} -> GOOD" "$T/trace.txt"
check "trace: READ CAPACITY" grep -qE " READ CAPACITY\((10|16)\) -> GOOD" "$T/trace.txt"
check "trace: MODE SENSE" grep -qE " MODE SENSE\((6|10)\) " "$T/trace.txt"
check "trace: a READ of block 0 (the partition table)" grep -qE " READ\((10|16)\) lba=0 " "$T/trace.txt"
check "the disk works after the rescan" sg_turs "$dev2"

stop_lunar TERM
check "lunar exits 0 with a handler still spinning" test "$LUNAR_EXIT" -eq 0
finish

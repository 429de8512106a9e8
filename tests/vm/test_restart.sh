#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# kill -9 in the middle of fio's verified random writes, twice, each time
# restarted at once: the new lunar takes the ring over (the commands the
# dead one held are failed back BUSY and retried by the initiator) and the
# configfs objects too.  fio finishes without an I/O error and every block
# it wrote verifies: no acknowledged write was lost.  The adopted objects
# go at the last lunar's clean exit.
source "$(dirname "$0")/lib.sh"
vm_setup

write_config restart.yaml <<EOF
version: 1
luns:
  - name: disk1
    transport: tcmu
    handler: $LUNAR_SOURCE_DIR/examples/file.lua
    size: 64MiB
    args: { path: $T/disk1.img, create: true }
    tcmu: { create: true }
EOF
start_lunar "$T/restart.yaml"
dev=$(wait_disk disk1) || { fail "no /dev/sdX for disk1"; finish; }
say "disk1 is $dev"
first=$LUNAR_PID

fio --name=restart --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
	--iodepth=16 --size=64M --verify=crc32c --verify_fatal=1 --eta=never --output="$T/fio.txt" &
fio_pid=$!

# kill_restart N: after N seconds of fio, SIGKILL and a new lunar at once
kill_restart()
{
	sleep "$1"
	kill -0 "$fio_pid" 2>/dev/null || { fail "fio ended before kill $2"; return; }
	say "     kill -9 lunar ($2) after ${1}s of fio"
	stop_lunar KILL
	start_lunar "$T/restart.yaml"
}
kill_restart 2 1
kill_restart 3 2
fio_rc=0
wait "$fio_pid" || fio_rc=$?
check "fio finished its writes and verified every block" test "$fio_rc" -eq 0
check "fio saw no I/O error" bash -c "grep -q 'err= 0' $T/fio.txt"
check "the kernel logged no I/O error" bash -c "! dmesg | grep -qE 'I/O error|critical medium error'"
check "each restarted lunar reset the ring" test "$(grep -c 'ring reset:' "$LUNAR_LOG")" -eq 2
grep -o 'ring reset: [a-z ]*' "$LUNAR_LOG" | sed 's/^/     /'
check "and took over what the first one made" \
	test "$(grep -c 'takes over [0-9]* configfs objects' "$LUNAR_LOG")" -eq 2
check "the first lunar is gone" bash -c "! kill -0 $first 2>/dev/null"
say "     $(grep -E 'write: IOPS' "$T/fio.txt" | head -n 1 | sed 's/^ *//')"

stop_lunar TERM
check "lunar run exits 0" test "$LUNAR_EXIT" -eq 0
check "configfs holds nothing lunar made" configfs_empty
check "the journal is gone" test ! -e /run/lunar/tcmu/disk1.journal
finish

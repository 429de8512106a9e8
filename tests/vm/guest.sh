#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Runs in the guest (copied to /xfer by vm.sh): the job's environment, then
# the job, its output on ttyS1 (vm.sh's stdout); the status goes back to
# the host through /xfer/rc.  With --shell, an interactive shell follows.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=${TERM:-linux}
umask 022
exec </dev/ttyS1 >/dev/ttyS1 2>&1
stty -F /dev/ttyS1 -opost -echo 2>/dev/null

modprobe configfs && mount -t configfs configfs /sys/kernel/config
mkdir -p /etc/target/pr /etc/target/alua	# LIO's db_root, for PR and ALUA state
. /xfer/env
cd "$LUNAR_VM_CWD" 2>/dev/null || cd /
args=()
mapfile -d '' -t args </xfer/args
bash "$LUNAR_VM_SCRIPT" "${args[@]}"
rc=$?
if [ "$LUNAR_VM_SHELL" = 1 ]; then
	stty -F /dev/ttyS1 sane 2>/dev/null
	# the host terminal's size (a serial line cannot tell it)
	[ -n "${LUNAR_VM_TTY:-}" ] && stty -F /dev/ttyS1 rows "${LUNAR_VM_TTY% *}" cols "${LUNAR_VM_TTY#* }"
	echo
	echo "lunar-vm: a root shell in the guest; 'exit' (or Ctrl-D) powers it off"
	rc_file=/tmp/lunar-vm.bashrc
	[ -f "$rc_file" ] || rc_file=/dev/null
	setsid -c bash --rcfile "$rc_file" -i </dev/ttyS1 >/dev/ttyS1 2>&1
fi
exit "$rc"

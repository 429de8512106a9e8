#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kernel half of every lab (docs/labs/*.md, their ```sh vm blocks), in
# one boot: first what `scripts/lab --shell` does before it gives the
# reader a shell (its guest half, config.yaml served, ram0 as /dev/sda),
# then each page's blocks in that shell's environment, each page's shown
# output checked (tests/labs/mdrun.sh).  The sim halves are labs/<page>.
source "$(dirname "$0")/lib.sh"
vm_setup

out=$T/docs
mkdir -p "$out"
# scripts/lab's lunar keeps serving config.yaml while the labs run, as
# it does for a reader
if LUNAR_VM_SHELL=1 bash "$LUNAR_SOURCE_DIR/scripts/lab" --guest "$LUNAR_SOURCE_DIR/config.yaml" \
	>"$out/lab.out" 2>&1; then
	say "ok   scripts/lab --shell's guest half"
else
	fail "scripts/lab --guest (the shell every lab starts from)"
	tail -n 30 "$out/lab.out" | sed 's/^/     | /'
	finish
fi
for page in "$LUNAR_SOURCE_DIR"/docs/labs/*.md; do
	name=$(basename "$page" .md)
	rc=0
	bash "$LUNAR_SOURCE_DIR/tests/labs/mdrun.sh" --mode vm --rc /tmp/lunar-vm.bashrc "$page" \
		>"$out/$name.out" 2>&1 || rc=$?
	case $rc in
	0) PASSED=$((PASSED + 1)); say "ok   $name: $(tail -n 1 "$out/$name.out")" ;;
	77) say "--   $name: no kernel part" ;;
	*) fail "$name (exit $rc)"; tail -n 40 "$out/$name.out" | sed 's/^/     | /' ;;
	esac
	# what a lab left behind would trip the next one
	dmesg -c >/dev/null
done
# stop scripts/lab's lunar (it is not this script's child): it must exit
# cleanly and remove what it created
for p in /proc/[0-9]*; do
	if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "^$LUNAR run $LUNAR_SOURCE_DIR/config.yaml"; then
		kill -TERM "${p#/proc/}"
		wait_until 30 test ! -e "$p" || fail "config.yaml's lunar did not exit"
	fi
done
check "configfs holds nothing lunar made" configfs_empty
finish

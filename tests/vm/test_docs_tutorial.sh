#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# docs/tutorial.md's kernel half, as a reader runs it: `scripts/lab` (its
# guest half: the demo and a clean exit), `scripts/lab --shell` (the
# guest half again, then the shell's environment), then every ```sh vm
# block typed at that shell, each one's shown output checked
# (tests/labs/mdrun.sh --lab).  The part without a VM is labs/tutorial.
source "$(dirname "$0")/lib.sh"
vm_setup

out=$T/tutorial.out
rc=0
bash "$LUNAR_SOURCE_DIR/tests/labs/mdrun.sh" --mode vm --lab "$LUNAR_SOURCE_DIR/docs/tutorial.md" \
	>"$out" 2>&1 || rc=$?
if [ "$rc" = 0 ]; then
	PASSED=$((PASSED + 1))
	say "ok   docs/tutorial.md: $(tail -n 1 "$out")"
else
	fail "docs/tutorial.md (exit $rc)"
	tail -n 60 "$out" | sed 's/^/     | /'
fi
finish

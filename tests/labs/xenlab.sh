#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# labs/xen: the output docs/labs/07-xen.md shows for `scripts/xenlab` must
# be in a real run's console.  scripts/xenlab is tests/xen/run.sh lunar
# with the console on the screen, so the run is the xen/lunar test's
# (ctest runs that first): its console, $LUNAR_BUILD_DIR/xen-vm/lunar.log,
# when it passed with this build's lunar; otherwise this runs the harness
# itself.  Exit 77 where the harness cannot run (no Xen, QEMU or root).
set -u -o pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${LUNAR_SOURCE_DIR:=$(cd "$here/../.." && pwd)}"
: "${LUNAR_BUILD_DIR:?set LUNAR_BUILD_DIR (the build tree)}"
: "${LUNAR:=$LUNAR_BUILD_DIR/lunar}"
page=$LUNAR_SOURCE_DIR/docs/labs/07-xen.md
log=$LUNAR_BUILD_DIR/xen-vm/lunar.log
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lunar-xenlab.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$LUNAR" lua "$here/mdblocks.lua" extract "$page" "$tmp" host >/dev/null ||
	{ echo "FAIL: cannot read the blocks of $page" >&2; exit 1; }
block=
for b in "$tmp"/*.sh; do
	[ "$(sed '/^$/d' "$b")" = scripts/xenlab ] && block=${b%.sh}
done
[ -n "$block" ] && [ -f "$block.expect" ] ||
	{ echo "FAIL: $page has no scripts/xenlab block followed by its output" >&2; exit 1; }

fresh()
{
	[ -f "$log" ] && [ "$log" -nt "$LUNAR" ] && grep -q "XEN-TEST: RESULT PASS" "$log"
}
if ! fresh; then
	echo "no passing xen/lunar run of this build: running tests/xen/run.sh lunar"
	rc=0
	bash "$LUNAR_SOURCE_DIR/tests/xen/run.sh" lunar || rc=$?
	[ "$rc" = 77 ] && exit 77
	[ "$rc" = 0 ] || { echo "FAIL: tests/xen/run.sh lunar failed" >&2; exit 1; }
fi
sed 's/\r$//' "$log" >"$tmp/console"
if ! "$LUNAR" lua "$here/mdblocks.lua" match "$block.expect" "$tmp/console"; then
	echo "FAIL: $(cat "$block.where"): scripts/xenlab's console does not show what the page says" >&2
	exit 1
fi
echo "the console of scripts/xenlab ($log) shows what $(basename "$page") says"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mdrun.sh: runs a page of the docs (a lab, the tutorial) the way a reader
# would, so the page cannot rot: every ```sh block of the mode, in order,
# in one shell (variables, `cd` and background jobs carry over), each
# block's output checked against the ```text expect block after it
# (tests/labs/mdblocks.lua says how blocks are marked and matched).
#
#   mdrun.sh [--mode sim|vm] [--rc FILE] [--lab] PAGE.md
#
#   --mode sim   (default) the ```sh blocks: no root, no VM (ctest label labs)
#   --mode vm    the ```sh vm blocks, as root inside tests/vm's VM
#   --rc FILE    sourced first, aliases on (the shell scripts/lab --shell gives)
#   --lab        (vm) a ```sh host block `scripts/lab [--shell] [CONFIG]` is
#                played by what scripts/lab runs in its VM: `scripts/lab
#                --guest CONFIG`, then (--shell) its shell's rc file
#
# In sim mode the reader's machine is played by a scratch directory: TMPDIR
# points there, and the current directory is a stand-in for the top of a
# clone (examples/, docs/, lua/ of this tree, build/lunar and build/lunarctl
# being the binaries under test: $LUNAR, $LUNARCTL).  In vm mode the
# current directory is the tree itself, as in scripts/lab's VM (whose view
# of it is a throwaway copy-on-write layer).  A command that fails
# fails the page (pages write `cmd || echo ...` where a failure is the
# lesson).  At the end, daemons still running are stopped and their logs
# (the *.log files under the scratch directory, and the blocks' output)
# must hold no sanitizer report.
# Exit: 0 pass, 1 fail, 77 skip.
set -u -o pipefail
# a reader's shell has none of the functions a test harness exports (tests/vm/lib.sh's
# lunarctl would talk to its own socket)
for _md_f in $(compgen -A function); do unset -f "$_md_f"; done
_md_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_md_mode=sim
_md_rc=
_md_lab=0
while [ $# -gt 1 ]; do
	case $1 in
	--mode) _md_mode=$2; shift 2 ;;
	--rc) _md_rc=$2; shift 2 ;;
	--lab) _md_lab=1; shift ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || { echo "usage: mdrun.sh [--mode sim|vm] [--rc FILE] [--lab] PAGE.md" >&2; exit 2; }
_md_page=$(readlink -f "$1")
: "${LUNAR_SOURCE_DIR:=$(cd "$_md_here/../.." && pwd)}"
: "${LUNAR_BUILD_DIR:=$LUNAR_SOURCE_DIR/build}"
: "${LUNAR:=$LUNAR_BUILD_DIR/lunar}"
: "${LUNARCTL:=$LUNAR_BUILD_DIR/lunarctl}"
[ -x "$LUNAR" ] && [ -x "$LUNARCTL" ] || { echo "FAIL: no lunar/lunarctl ($LUNAR)" >&2; exit 1; }
command -v jq >/dev/null || { echo "SKIP: jq is not installed" >&2; exit 77; }

_md_scratch=$(mktemp -d "${TMPDIR:-/tmp}/lunar-page.XXXXXX")
_md_blocks=$_md_scratch/.blocks
mkdir -p "$_md_blocks" "$_md_scratch/clone/build"
_md_n=$("$LUNAR" lua "$_md_here/mdblocks.lua" extract "$_md_page" "$_md_blocks" "$_md_mode" \
	"$LUNAR_SOURCE_DIR") ||
	{ echo "FAIL: cannot read the blocks of $_md_page" >&2; exit 1; }
if [ "$_md_n" -eq 0 ]; then
	echo "SKIP: $_md_page has no $_md_mode blocks" >&2
	rm -rf "$_md_scratch"
	exit 77
fi
ln -s "$LUNAR" "$_md_scratch/clone/build/lunar"
ln -s "$LUNARCTL" "$_md_scratch/clone/build/lunarctl"
for d in examples docs lua scripts tests config.yaml; do
	ln -s "$LUNAR_SOURCE_DIR/$d" "$_md_scratch/clone/$d"
done
export TMPDIR=$_md_scratch
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
_md_current=
_md_out=
_md_failed=

_md_finish()
{
	local rc=$? pid bad

	set +e
	trap - EXIT
	if [ -n "$_md_current" ]; then
		echo "FAIL: $(cat "$_md_current.where"): the block exited with status $rc" >&2
		[ -n "$_md_failed" ] && echo "   at: $_md_failed" >&2
		[ -s "$_md_out" ] && sed 's/^/   | /' "$_md_out" >&2
		rc=1
	fi
	for pid in $(jobs -p); do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $(jobs -p); do
		wait "$pid" 2>/dev/null
	done
	bad=$(grep -rlE --include='*.log' --include='*.out' 'ERROR: AddressSanitizer|runtime error:' \
		"$_md_scratch" 2>/dev/null)
	if [ -n "$bad" ]; then
		echo "FAIL: sanitizer reports in $bad" >&2
		cat $bad >&2
		rc=1
	fi
	[ -n "${LUNAR_PAGE_KEEP:-}" ] && echo "kept $_md_scratch" >&2 || rm -rf "$_md_scratch"
	exit "$rc"
}
trap _md_finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$_md_mode" = vm ]; then
	cd "$LUNAR_SOURCE_DIR"
else
	cd "$_md_scratch/clone"
fi

# _md_lab_standin BLOCK: what `scripts/lab [--shell] [CONFIG]` runs in its VM
_md_lab_standin()
{
	local shell=0 config=config.yaml w

	for w in $(head -n 1 "$1"); do
		case $w in
		scripts/lab) ;;
		--shell) shell=1 ;;
		*) config=$w ;;
		esac
	done
	LUNAR_VM_SHELL=$shell bash "$LUNAR_SOURCE_DIR/scripts/lab" --guest "$(readlink -f "$config")"
	if [ "$shell" = 1 ]; then
		shopt -s expand_aliases
		# shellcheck disable=SC1091
		source /tmp/lunar-vm.bashrc
	fi
}

if [ -n "$_md_rc" ]; then
	shopt -s expand_aliases
	# shellcheck disable=SC1090
	source "$_md_rc" >/dev/null
fi
# as in a reader's shell, a pipeline's status is its last command's (no
# pipefail: `lunarctl ... | head` is fine); any failing command fails the page
set +o pipefail
set -e
trap '_md_failed=$BASH_COMMAND' ERR
for _md_b in "$_md_blocks"/*.sh; do
	_md_current=${_md_b%.sh}
	_md_out=$_md_current.out
	echo "== $(cat "$_md_current.where")"
	sed 's/^/$ /' "$_md_b"
	if [ -f "$_md_current.host" ]; then
		if [ "$_md_lab" = 0 ]; then
			echo "(a command for the reader's machine: not run here)"
			_md_current=
			continue
		fi
		_md_lab_standin "$_md_b" >"$_md_out" 2>&1 </dev/null
	else
		# shellcheck disable=SC1090
		source "$_md_b" >"$_md_out" 2>&1 </dev/null
	fi
	cat "$_md_out"
	if [ -f "$_md_current.expect" ] &&
		! "$LUNAR" lua "$_md_here/mdblocks.lua" match "$_md_current.expect" "$_md_out"; then
		echo "FAIL: $(cat "$_md_current.where"): the output is not what the page shows" >&2
		_md_current=
		exit 1
	fi
	_md_current=
done
echo "$_md_n blocks of $(basename "$_md_page") ($_md_mode) ran as the page shows"

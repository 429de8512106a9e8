#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run.sh: the kernel part of the benchmark (scripts/bench --vm).  Boots the
# VM once (tests/vm/vm.sh: Debian's kernel under QEMU TCG, one vCPU), runs
# tests/bench/vm/guest.sh in it (fio through tcm_loop against lunar,
# tcmu-runner and rd_mcp RAM LUNs, rounds interleaved), then prints the
# table and the targets (summary.py), writes the JSON and charts it.
#
#   tests/bench/vm/run.sh [--lunar PATH] [--runtime S] [--rounds N]
#                         [--json FILE] [--png FILE] [--keep DIR] [--profile]
#
#   --lunar    the lunar binary (default build/bench/lunar: Release);
#              lunarctl is taken from beside it
#   --runtime  seconds per fio run (default 5, plus 1 s of ramp)
#   --rounds   rounds of every job on every LUN (default 3)
#   --json     where the results go (default bench/results/<time>-vm.json)
#   --png      the chart (default: the JSON's name, .png; "" for none)
#   --keep     keep fio's raw JSON and the daemons' logs there
#   --profile  then profile a few runs with perf in the guest (into --keep)
#
# Exit status: 0 every target met, 1 a target missed, 2 a row is missing,
# 77 no VM on this host (scripts/setup vm bench), other: the VM failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../../.." && pwd)
lunar=$src/build/bench/lunar
runtime=5
rounds=3
json=
png=unset
keep=
work=
guest_args=()

usage()
{
	sed -n '/^#   tests/,/^#   --keep/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

parse_args()
{
	while [ $# -gt 0 ]; do
		case $1 in
		--lunar) lunar=$(readlink -f "$2"); shift 2 ;;
		--runtime) runtime=$2; shift 2 ;;
		--rounds) rounds=$2; shift 2 ;;
		--json) json=$2; shift 2 ;;
		--png) png=$2; shift 2 ;;
		--keep) keep=$2; shift 2 ;;
		--profile) guest_args+=(--profile); shift ;;
		*) usage ;;
		esac
	done
	[ -n "$json" ] || json=$src/bench/results/$(date +%Y%m%d-%H%M%S)-vm.json
	[ "$png" != unset ] || png=${json%.json}.png
	[ -x "$lunar" ] || { echo "bench --vm: no lunar at $lunar" >&2; exit 2; }
	command -v tcmu-runner >/dev/null && command -v fio >/dev/null ||
		{ echo "bench --vm: SKIP: needs tcmu-runner and fio (scripts/setup vm bench)" >&2; exit 77; }
}

# the guest writes into a directory the host can read (never under /tmp:
# the guest has a tmpfs of its own there)
make_workdir()
{
	if [ -n "$keep" ]; then
		mkdir -p "$keep"
		work=$(cd "$keep" && pwd)
	else
		work=$(mktemp -d "$(dirname "$json")/.vm.XXXXXX.tmp")
		trap 'rm -rf "$work"' EXIT
	fi
}

# boot, setup and teardown (about a minute under TCG) and every fio run
# with fio's own start and stop, twice over for a loaded host; and as
# long as half an hour waiting for the other VMs of this machine (vm.sh
# waits for its lock as long as it lets the VM run)
vm_timeout()
{
	echo $((2 * (120 + (rounds * 5 + 2) * 3 * (runtime + 1 + 4)) + 1800))
}

# Bash reads a script as it runs it, and the VM may wait long for its
# lock: the harness and the guest script run from copies, so an edit of
# the tree meanwhile cannot break a run halfway.
snapshot_scripts()
{
	mkdir -p "$work/scripts"
	cp "$src/tests/vm/vm.sh" "$src/tests/vm/init.sh" "$src/tests/vm/guest.sh" "$work/scripts/"
	cp "$here/guest.sh" "$work/scripts/bench-guest.sh"
}

run_vm()
{
	local rc=0

	snapshot_scripts
	echo "bench --vm: booting the VM: $rounds round(s) of 5 jobs x 3 LUNs, ${runtime} s each" >&2
	# vm.sh shares the tree into the VM when it lies under /tmp (a CI clone)
	LUNAR_SOURCE_DIR=$src LUNAR=$lunar bash "$work/scripts/vm.sh" --timeout "$(vm_timeout)" --mem 2048 --out "$work" \
		"$work/scripts/bench-guest.sh" --src "$src" --out /run/out --runtime "$runtime" \
		--rounds "$rounds" --lunar "$lunar" "${guest_args[@]}" || rc=$?
	[ "$rc" -eq 0 ] && return 0
	[ "$rc" -eq 77 ] && exit 77
	echo "bench --vm: the VM run failed (exit $rc)" >&2
	for f in lunar.log tcmu-runner.log; do
		[ -s "$work/$f" ] && { echo "---- $f" >&2; tail -n 20 "$work/$f" >&2; }
	done
	exit 3
}

# one cluster per job: lunar and tcmu-runner as a ratio to rd_mcp
chart()
{
	local dat

	[ -n "$png" ] || return 0
	command -v gnuplot >/dev/null && command -v jq >/dev/null || return 0
	dat=$(mktemp)
	jq -r '.ratios[] | "\(.job) \(.lunar_rd_mcp // 0) \(.tcmu_runner_rd_mcp // 0)"' "$json" >"$dat"
	gnuplot <<-GP
	set terminal pngcairo size 1100,500 noenhanced
	set output "$png"
	set title "lunar vs tcmu-runner through tcm_loop (QEMU TCG, 1 vCPU): IOPS as a ratio to the kernel's rd_mcp"
	set style data histogram
	set style histogram cluster gap 1
	set style fill solid 0.7
	set boxwidth 0.9
	set yrange [0:1.2<*]
	set grid ytics
	set key top left
	plot "$dat" using 2:xtic(1) title "lunar (lunar.disk + ram)", \
	     "" using 3 title "tcmu-runner (qcow on tmpfs)", \
	     1 with lines lw 2 title "rd_mcp", 0.5 with lines dt 2 title "target lunar >= 0.5x rd_mcp"
	GP
	rm -f "$dat"
}

main()
{
	local rc=0

	parse_args "$@"
	mkdir -p "$(dirname "$json")"
	make_workdir
	run_vm
	python3 "$here/summary.py" "$work" "$json" || rc=$?
	[ -s "$json" ] || exit 3
	chart
	echo "results: $json${png:+ and $png}"
	exit "$rc"
}

main "$@"

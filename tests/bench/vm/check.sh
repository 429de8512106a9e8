#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check.sh: ctest vm/bench.  The kernel part of the benchmark in its short
# mode (2 s per fio run, one round) with this build's lunar, so the
# harness cannot rot: every job has a row for lunar, tcmu-runner and
# rd_mcp with non-zero numbers.  Speed is never asserted (a missed target
# is the benchmark's business, not a test failure).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${LUNAR_BUILD_DIR:-$here}/tests/bench/vm-check
json=$out/vm.json

run_bench()
{
	local rc=0

	rm -rf "$out"
	mkdir -p "$out"
	bash "$here/run.sh" --lunar "${LUNAR:?LUNAR: the lunar to test}" --runtime 2 --rounds 1 \
		--json "$json" --png "" --keep "$out/raw" || rc=$?
	case $rc in
	0 | 1) ;;	# targets met or missed: not this test's question
	77) exit 77 ;;
	*) echo "FAIL: the kernel bench failed (exit $rc)"; exit 1 ;;
	esac
}

check_rows()
{
	local bad

	bad=$(jq -r '
		[.jobs[] as $j | .backstores[] as $b | [$j, $b]] as $want
		| [.rows[] | select(.runs > 0 and .iops > 0 and .mibs > 0 and .lat_us > 0)
		   | [.job, .backstore]] as $have
		| ($want - $have)[] | "\(.[0]) on \(.[1])"' "$json")
	if [ -n "$bad" ]; then
		echo "FAIL: no numbers for:"
		echo "$bad"
		exit 1
	fi
	jq -e '(.jobs | length) == 5 and (.backstores | length) == 3 and (.targets | length) == 8
		and ([.ratios[] | .lunar_rd_mcp, .tcmu_runner_rd_mcp, .lunar_tcmu_runner
		      | select(. == null or . <= 0)] | length) == 0' "$json" >/dev/null ||
		{ echo "FAIL: $json lacks ratios or targets"; exit 1; }
	jq -e '[.rows[] | select(.backstore == "lunar") | .cmds_per_batch | select(. != null and . > 0)]
		| length == 5' "$json" >/dev/null ||
		{ echo "FAIL: lunar's counters (commands per batch) are missing"; exit 1; }
	echo "ok: 15 rows with numbers, ratios and targets in $json"
}

run_bench
check_rows

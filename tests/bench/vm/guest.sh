#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# guest.sh: the kernel part of the benchmark, run as root inside the VM
# that tests/bench/vm/run.sh boots (tests/vm/vm.sh: Debian's kernel under
# QEMU TCG, one vCPU).  In this one boot, three equivalent RAM LUNs go
# through tcm_loop to a /dev/sdX each:
#
#   lunar        lunar.disk + examples/ramdisk.lua, a LUN lunar creates
#   tcmu-runner  Debian's tcmu-runner, its qcow handler on a raw file in
#                /dev/shm (the package has no plain file handler: qcow
#                serves a non-qcow image as raw, with pread/pwrite)
#   rd_mcp       the kernel's own ramdisk backstore
#
# all with 512-byte blocks and hw_max_sectors 2048 (a 1 MiB read is one
# command everywhere), prefilled, scheduler none.  fio runs each job on
# each LUN in turn (lunar, tcmu-runner, rd_mcp, lunar, ...), round after
# round, so drift in the host hits all three alike.  Raw fio JSON (and
# lunar's counters around each of its runs) go to OUT; run.sh sums up.
#
#   guest.sh --out DIR [--src DIR] [--runtime S] [--ramp S] [--rounds N] [--size MiB]
#            [--lunar PATH] [--lunarctl PATH] [--jobs "JOB..."] [--profile]
#
# --profile: after the rounds, one more run of 4 KiB randread QD1 and
# randwrite QD32 on each LUN under `perf record -a` (the whole guest: kernel, fio and the
# daemons), its report in OUT/perf/.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." 2>/dev/null && pwd || true)
CFS=/sys/kernel/config/target
W=/tmp/lunar-bench
out=
runtime=5
ramp=1
rounds=3
size_mb=128
lunar=
lunarctl=${LUNARCTL:-}
jobs="randread-4k-qd1 randread-4k-qd32 randwrite-4k-qd1 randwrite-4k-qd32 seqread-1m-qd4"
backstores="lunar tcmu-runner rd_mcp"
lunar_pid=
profile=0
declare -A DEV

say()
{
	printf '[%6s] %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$*"
}

die()
{
	say "bench: $*" >&2
	exit 2
}

# the guest's seconds since boot, in hundredths
now()
{
	local up

	read -r up _ </proc/uptime
	echo "${up/./}"
}

# wait_for SECONDS CMD...: until CMD succeeds; 1 when the time is up.
wait_for()
{
	local deadline=$(($(now) + $1 * 100))

	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(now)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

parse_args()
{
	while [ $# -gt 0 ]; do
		case $1 in
		--out) out=$2; shift 2 ;;
		--src) src=$2; shift 2 ;;
		--runtime) runtime=$2; shift 2 ;;
		--ramp) ramp=$2; shift 2 ;;
		--rounds) rounds=$2; shift 2 ;;
		--size) size_mb=$2; shift 2 ;;
		--lunar) lunar=$2; shift 2 ;;
		--lunarctl) lunarctl=$2; shift 2 ;;
		--jobs) jobs=$2; shift 2 ;;
		--profile) profile=1; shift ;;
		*) die "unknown option $1" ;;
		esac
	done
	[ -n "$out" ] || die "--out DIR is needed"
	[ -n "$lunar" ] || lunar=${LUNAR:-$src/build/bench/lunar}
	[ -n "$lunarctl" ] || lunarctl=$(dirname "$lunar")/lunarctl
	[ -x "$lunar" ] && [ -x "$lunarctl" ] || die "no lunar/lunarctl at $lunar"
	mkdir -p "$W"
}

# OUT is vm.sh's --out share (/run/out).  tests/vm/init.sh mounts it when
# a 9p mount_tag reads "out"; mount it here if that did not happen.
ensure_out()
{
	local tags

	case $out in /run/out) ;; *) return 0 ;; esac
	mountpoint -q /run/out && return 0
	tags=$(cat /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null | tr '\0' ' ')
	say "bench: /run/out is not mounted (9p tags: $tags): mounting it"
	mkdir -p /run/out
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none out /run/out ||
		die "no out share: the results would be lost"
}

load_modules()
{
	modprobe -a target_core_mod target_core_user target_core_iblock tcm_loop sd_mod ||
		die "cannot load the LIO modules"
}

# loop_export BACKSTORE_DIR N: a tcm_loop target of its own for the
# backstore; prints the /dev/sdX Linux makes of it.
loop_export()
{
	local bs=$1 wwn tpg addr d

	wwn=$(printf 'naa.5001405ee%07x' "$2")
	tpg=$CFS/loopback/$wwn/tpgt_1
	mkdir -p "$tpg/lun/lun_0"
	printf 'naa.5001405ef%07x' "$2" >"$tpg/nexus"
	ln -s "$bs" "$tpg/lun/lun_0/$(basename "$bs")"
	addr=$(cat "$tpg/address")
	wait_for 30 compgen -G "/sys/class/scsi_device/$addr:0/device/block/*" ||
		die "no disk for $bs"
	d=$(basename "$(compgen -G "/sys/class/scsi_device/$addr:0/device/block/*" | head -n 1)")
	wait_for 10 test -b "/dev/$d" || die "no /dev/$d"
	echo "/dev/$d"
}

setup_rd()
{
	local bs=$CFS/core/rd_mcp_90/bench_rd

	mkdir -p "$bs"
	echo "rd_pages=$((size_mb * 256))" >"$bs/control"
	echo 1 >"$bs/enable"
	DEV[rd_mcp]=$(loop_export "$bs" 1)
}

# A TCM-USER netlink socket of PID has joined a multicast group: the
# daemon hears about devices made from now on.
listens()
{
	local ino

	for ino in $(ls -l "/proc/$1/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p'); do
		awk -v ino="$ino" '$2 == 16 && $10 == ino && $4 != "00000000" { f = 1 }
			END { exit !f }' /proc/net/netlink && return 0
	done
	return 1
}

# the uio device of a user backstore is open in some process
uio_open()
{
	local u

	for u in /sys/class/uio/uio*; do
		case $(cat "$u/name") in
		tcm-user/*/"$1"/*)
			find /proc/[0-9]*/fd -lname "/dev/$(basename "$u")" -print -quit 2>/dev/null |
				grep -q . && return 0 ;;
		esac
	done
	return 1
}

setup_runner()
{
	local bs=$CFS/core/user_91/bench_runner hp=$W/tcmu-handlers pid

	# only the qcow handler: loading the rbd one costs seconds under TCG
	mkdir -p "$hp" "$W/tcmu-runner-log"
	ln -sf /usr/lib/x86_64-linux-gnu/tcmu-runner/handler_qcow.so "$hp/"
	truncate -s "${size_mb}M" /dev/shm/bench_runner.img
	tcmu-runner --handler-path "$hp" --tcmu-log-dir "$W/tcmu-runner-log" \
		>"$out/tcmu-runner.log" 2>&1 &
	pid=$!
	wait_for 60 listens "$pid" || die "tcmu-runner does not listen to TCM-USER: $(cat "$out/tcmu-runner.log")"
	mkdir -p "$bs"
	printf 'dev_config=qcow//dev/shm/bench_runner.img,dev_size=%d,hw_max_sectors=2048' \
		$((size_mb << 20)) >"$bs/control"
	echo 1 >"$bs/enable"
	wait_for 30 uio_open bench_runner || die "tcmu-runner did not open its device"
	DEV[tcmu-runner]=$(loop_export "$bs" 2)
}

setup_lunar()
{
	cat >"$W/lunar.yaml" <<-EOF
	version: 1
	luns:
	  - name: bench0
	    transport: tcmu
	    handler: $src/examples/ramdisk.lua
	    size: ${size_mb}MiB
	    block_size: 512
	    tcmu: { create: true, fabric: loop, hw_max_sectors: 2048 }
	EOF
	"$lunar" run "$W/lunar.yaml" --ctl "$W/ctl.sock" >"$out/lunar.log" 2>&1 &
	lunar_pid=$!
	wait_for 60 lunar_disk || die "lunar made no disk: $(tail -n 20 "$out/lunar.log")"
	DEV[lunar]=$(lunar_disk)
	wait_for 10 test -b "${DEV[lunar]}" || die "no ${DEV[lunar]}"
}

lunar_disk()
{
	"$lunarctl" --ctl "$W/ctl.sock" status --json |
		jq -r '.luns[] | select(.name == "bench0") | .device' | grep -o '/dev/sd[a-z]*'
}

lunar_stats()
{
	"$lunarctl" --ctl "$W/ctl.sock" stats --json >"$1" 2>/dev/null || echo '{}' >"$1"
}

prepare_disks()
{
	local b d

	for b in $backstores; do
		d=${DEV[$b]}
		echo none >"/sys/block/${d#/dev/}/queue/scheduler" || true
		# every block written once: reads hit data, not holes
		dd if=/dev/zero of="$d" bs=1M count="$size_mb" oflag=direct status=none
		say "$b is $d ($(cat "/sys/block/${d#/dev/}/queue/max_sectors_kb") KiB per request)"
	done
}

fio_args()
{
	case $1 in
	randread-4k-qd1) echo "--rw=randread --bs=4k --iodepth=1" ;;
	randread-4k-qd32) echo "--rw=randread --bs=4k --iodepth=32" ;;
	randwrite-4k-qd1) echo "--rw=randwrite --bs=4k --iodepth=1" ;;
	randwrite-4k-qd32) echo "--rw=randwrite --bs=4k --iodepth=32" ;;
	seqread-1m-qd4) echo "--rw=read --bs=1M --iodepth=4" ;;
	*) die "unknown job $1" ;;
	esac
}

# run_fio JOB BACKSTORE ROUND
run_fio()
{
	local j=$1 b=$2 r=$3 f=$out/raw/$1.$2.r$3

	[ "$b" = lunar ] && lunar_stats "$f.before.stats"
	# shellcheck disable=SC2046
	if ! fio --name="$j" --filename="${DEV[$b]}" --ioengine=libaio --direct=1 \
		$(fio_args "$j") --time_based --runtime="$runtime" --ramp_time="$ramp" \
		--norandommap --randrepeat=0 --lat_percentiles=1 \
		--output-format=json --output="$f.json" >/dev/null 2>"$f.err"; then
		say "fio $j on $b (round $r) failed: $(tail -n 5 "$f.err")"
		rm -f "$f.json"
	fi
	[ "$b" = lunar ] && lunar_stats "$f.after.stats"
	return 0
}

# profile_run JOB BACKSTORE: fio under a system-wide perf profile (cpu-clock:
# TCG has no hardware counters), reported by command, object and symbol
profile_run()
{
	local j=$1 b=$2 f=$out/perf/$1.$2

	mkdir -p "$out/perf"
	perf record -q -a -g -e cpu-clock -F 1999 -o "$W/perf.data" -- \
		fio --name="$j" --filename="${DEV[$b]}" --ioengine=libaio --direct=1 \
		$(fio_args "$j") --time_based --runtime="$runtime" --norandommap --randrepeat=0 \
		--output-format=json --output="$f.fio.json" >/dev/null 2>"$f.err" || {
		say "perf record of $j on $b failed: $(tail -n 3 "$f.err")"
		return 0
	}
	perf report -i "$W/perf.data" --no-children --sort comm,dso,sym --stdio -g none \
		--percent-limit 0.5 >"$f.txt" 2>/dev/null || true
	perf report -i "$W/perf.data" --no-children --sort comm --stdio -g none \
		>"$f.comm.txt" 2>/dev/null || true
	rm -f "$W/perf.data"
}

profile_all()
{
	local j b

	[ "$profile" = 1 ] || return 0
	command -v perf >/dev/null || { say "no perf: no profile"; return 0; }
	for j in randread-4k-qd1 randwrite-4k-qd32; do
		for b in $backstores; do
			profile_run "$j" "$b"
		done
	done
	say "profiles in $out/perf"
}

write_meta()
{
	jq -n --arg kernel "$(uname -r)" --arg fio "$(fio --version)" \
		--arg runner "$(dpkg-query -W -f='${Version}' tcmu-runner 2>/dev/null)" \
		--arg lunar "$("$lunar" --version 2>&1 | head -n 1)" --arg cpus "$(nproc)" \
		--arg runtime "$runtime" --arg ramp "$ramp" --arg rounds "$rounds" \
		--arg size "$size_mb" --arg jobs "$jobs" --arg bstores "$backstores" \
		--arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
		'{kernel: $kernel, fio: $fio, tcmu_runner: $runner, lunar: $lunar,
		  vcpus: ($cpus | tonumber), cpu: $cpu, runtime_s: ($runtime | tonumber),
		  ramp_s: ($ramp | tonumber), rounds: ($rounds | tonumber),
		  lun_mib: ($size | tonumber), jobs: ($jobs | split(" ")),
		  backstores: ($bstores | split(" "))}' >"$out/meta.json"
}

main()
{
	local r j b t0

	parse_args "$@"
	ensure_out
	mkdir -p "$out/raw"
	t0=$(now)
	load_modules
	setup_rd
	setup_runner
	setup_lunar
	prepare_disks
	write_meta
	say "setup: $(( ($(now) - t0) / 100 )) s; $rounds round(s) of $(wc -w <<<"$jobs") jobs x 3 LUNs, ${runtime} s each"
	for ((r = 1; r <= rounds; r++)); do
		for j in $jobs; do
			for b in $backstores; do
				run_fio "$j" "$b" "$r"
			done
		done
		say "round $r of $rounds done"
	done
	profile_all
	# a clean exit: lunar removes what it made, and says so if it cannot
	kill -TERM "$lunar_pid"
	wait "$lunar_pid" || say "lunar exited with status $?"
}

main "$@"

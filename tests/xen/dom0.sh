#!/usr/bin/env bash
# Runs in dom0 as PID 1: starts the Xen toolstack daemons, serves two LUNs
# to a PV guest (lunar, or the kernel's xen-scsiback as the reference),
# then steps the guest through its script (domu-init): connect, hot-add,
# hot-remove, detach, attach again.  Results go to the console and to
# $work/result; dom0 powers off at the end.
arg() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" /proc/cmdline; }
src=$(arg lunar_src)
build=$(arg lunar_build)
work=$(arg lunar_work)
mode=$(arg xtest)
lunar=$(arg lunar_bin)
t() { echo "DOM0 T+$(cut -d' ' -f1 /proc/uptime) $*"; }
result() { echo "XEN-TEST: RESULT $*" | tee "$work/result"; }
finish() {
	sync
	echo o > /proc/sysrq-trigger 2>/dev/null
	/bb/busybox poweroff -f
}
die() {
	t "FAIL: $*"
	domu_log | grep -E "DOMU|panic|syncing|scsi|sd[a-z]|xen|vscsi|error|not found" | tail -60 |
		sed 's/^/  domU| /'
	[ -f /tmp/lunar.log ] && tail -40 /tmp/lunar.log | sed 's/^/  lunar| /'
	xenstore-ls -f /local/domain/0/backend 2>/dev/null | sed 's/^/  xs| /'
	result "FAIL $*"
	finish
}
domu_log() { tr -d '\r' < /var/log/xen/console/guest-domu.log 2>/dev/null; }
guest_seen=0
# wait_guest TEXT SECONDS: the guest printed TEXT (or failed).  One
# snapshot of the guest's console per look: its new DOMU lines are shown,
# then TEXT is looked for in that same snapshot, so every line is shown
# once and before what dom0 does next (docs/labs/07-xen.md shows the order)
wait_guest() {
	local n
	for _ in $(seq "$2"); do
		domu_log > /tmp/domu.snap
		n=$(grep -c "^DOMU" /tmp/domu.snap)
		[ "$n" -gt "$guest_seen" ] && grep "^DOMU" /tmp/domu.snap | tail -n +$((guest_seen + 1)) | sed 's/^/  /'
		guest_seen=$n
		grep -q "DOMU: FAIL" /tmp/domu.snap && die "guest: $(grep -m1 'DOMU: FAIL' /tmp/domu.snap)"
		grep -qF "$1" /tmp/domu.snap && return 0
		grep -q "Kernel panic" /tmp/domu.snap && die "the guest kernel panicked"
		sleep 1
	done
	die "guest did not say '$1' within $2s"
}

mkdir -p /var/log/xen/console /var/lib/xen /var/lib/xenstored /run/xen /run/xenstored /var/lock /var/tmp
ln -sfn /run /var/run
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd; do modprobe $m; done
mount -t xenfs xenfs /proc/xen
export XENSTORED_ROOTDIR=/run/xenstored
xenbin=$(ls -d /usr/lib/xen-4.*/bin | tail -1)
$xenbin/xenstored --pid-file /run/xenstore.pid || die "xenstored"
for _ in $(seq 30); do xenstore-read -s / >/dev/null 2>&1 && break; sleep 1; done
$xenbin/xen-init-dom0 >/dev/null || die "xen-init-dom0"
$xenbin/xenconsoled --pid-file /run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
t "dom0 ready ($mode)"
# create_domu RAMDISK MEMORY_MIB CMDLINE: the PV guest, paused; its id in $D
create_domu() {
	cat > /tmp/domu.cfg <<CFG
name = "domu"
type = "pv"
kernel = "$work/vmlinuz"
ramdisk = "$work/$1"
extra = "$3"
memory = $2
vcpus = 1
on_poweroff = "destroy"
on_crash = "preserve"
CFG
	xl create -p /tmp/domu.cfg >/dev/null || die "xl create"
	D=$(xl domid domu)
}
[ "$mode" = bench ] && . "$src/tests/xen/dom0-bench.sh"

case "$mode" in
lunar)
	type=vscsi-lunar
	p0=disk0
	p1=disk1
	handler=$src/examples/ramdisk.lua
	[ -f "$handler" ] || handler=$src/examples/hello.lua
	cat > /tmp/lunar.yaml <<YAML
luns:
  - name: disk0
    transport: xen
    handler: $handler
    size: 96MiB
    args: { vendor: LUNAR, product: xen disk }
  - name: disk1
    transport: xen
    handler: $handler
    size: 16MiB
    args: { vendor: LUNAR, product: hot disk }
YAML
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
	"$lunar" run /tmp/lunar.yaml --ctl /run/lunar.sock > /tmp/lunar.log 2>&1 &
	lunar_pid=$!
	for _ in $(seq 60); do grep -q "serving" /tmp/lunar.log && break; sleep 1; done
	grep -q "serving" /tmp/lunar.log || die "lunar did not start"
	t "lunar serving with $(basename "$handler")"
	;;
kernel)
	type=vscsi
	p0=naa.5001405000000001:0
	p1=naa.5001405000000001:1
	modprobe configfs; mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
	modprobe target_core_mod && modprobe xen-scsiback || die "xen-scsiback"
	C=/sys/kernel/config/target
	for i in 0 1; do
		mkdir -p $C/core/rd_mcp_$i/rd$i
		echo rd_pages=$((i ? 4096 : 24576)) > $C/core/rd_mcp_$i/rd$i/control
		echo 1 > $C/core/rd_mcp_$i/rd$i/enable
		mkdir -p $C/xen-pvscsi/naa.5001405000000001/tpgt_1/lun/lun_$i
		ln -s $C/core/rd_mcp_$i/rd$i $C/xen-pvscsi/naa.5001405000000001/tpgt_1/lun/lun_$i/port
	done
	echo naa.5001405000000002 > $C/xen-pvscsi/naa.5001405000000001/tpgt_1/nexus
	t "LIO ramdisks behind xen-scsiback"
	;;
*)
	die "unknown mode '$mode'"
	;;
esac

create_domu domu.cpio.gz 384 \
	"console=hvc0 rdinit=/init quiet vendor=$( [ $mode = lunar ] && echo LUNAR || echo LIO-ORG )"
x() { "$lunar" xen "$@" --type $type; }
x attach $D $p0=0:0:0:0 || die "lunar xen attach"
xl unpause domu
t "domU $D started with $p0 at 0:0:0:0"

wait_guest "DOMU: basic done" 240
x attach $D $p1=0:0:1:0 || die "hot-add"
t "hot-added $p1 at 0:0:1:0"
wait_guest "DOMU: hot-added" 90
x detach $D $p1 || die "hot-remove"
t "hot-removed $p1"
wait_guest "DOMU: hot-removed" 90
if [ "$mode" = lunar ]; then
	# a config reload that drops disk1 takes it from the guest
	x attach $D $p1=0:0:1:0 || die "attach disk1 again"
	wait_guest "DOMU: LUN back" 90
	sed -i '/name: disk1/,$d' /tmp/lunar.yaml
	"$build/lunarctl" --ctl /run/lunar.sock reload 2>&1 | sed 's/^/  reload| /'
	t "config reload without disk1"
	wait_guest "DOMU: config reload took" 90
fi
x detach $D || die "detach"
t "detached the vhost"
wait_guest "DOMU: detached" 90
x attach $D $p0=0:0:0:0 || die "attach again"
t "attached again"
wait_guest "DOMU: RESULT" 120
for _ in $(seq 30); do xl list domu >/dev/null 2>&1 || break; sleep 1; done
if [ "$mode" = lunar ]; then
	"$build/lunarctl" --ctl /run/lunar.sock status 2>&1 | sed 's/^/  status| /'
	kill -TERM $lunar_pid
	wait $lunar_pid
	rc=$?
	sed 's/^/  lunar| /' /tmp/lunar.log | tail -60
	[ $rc = 0 ] || die "lunar exited with $rc (sanitizer report above?)"
	grep -qE "ERROR: (Address|Leak|Undefined)Sanitizer|runtime error" /tmp/lunar.log && die "sanitizer report"
fi
domu_log | grep -q "DOMU: RESULT PASS" || die "guest: $(domu_log | grep -m1 -E 'DOMU: (FAIL|RESULT)')"
domu_log | grep -E "^DOMU: (speed|sg_inq)" > "$work/speed" 2>/dev/null
result PASS
finish

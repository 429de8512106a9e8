#!/usr/bin/env bash
# The real-Xen test: boots Xen 4.17 with the host's kernel as dom0 under
# QEMU TCG (never KVM; -cpu max,-smap: with SMAP dom0 faults under TCG),
# runs dom0.sh there in MODE, and passes when dom0 reports PASS.
#
#   tests/xen/run.sh lunar    lunar serves the guest (the test)
#   tests/xen/run.sh kernel   the kernel's xen-scsiback does (the reference)
#   tests/xen/run.sh bench    both side by side under fio (scripts/bench --xen);
#                             the results in $LUNAR_BUILD_DIR/xen-vm/bench.txt
#
# Env: LUNAR (the lunar binary), LUNAR_SOURCE_DIR, LUNAR_BUILD_DIR (ctest
# sets them), LUNAR_XEN_TIMEOUT (seconds for the VM, default 480),
# LUNAR_XEN_ARGS (words added to dom0's command line: bench_time=S...).
# Exit 77 (skipped) when this machine cannot run it.  Holds an exclusive
# lock on /var/tmp/lunar-vm.lock for the VM's whole life: other VM tests
# (TCMU) on this machine take the same lock.
set -euo pipefail
mode=${1:-lunar}
here=$(cd "$(dirname "$0")" && pwd)
src=${LUNAR_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${LUNAR_BUILD_DIR:?set LUNAR_BUILD_DIR (the build tree)}
lunar=${LUNAR:-$build/lunar}
work=$build/xen-vm
skip() { echo "skipped: $*"; exit 77; }

command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (scripts/setup xen)"
command -v xl >/dev/null || [ -x /usr/sbin/xl ] || skip "no Xen tools (scripts/setup xen)"
# (not `busybox --list | grep -q`: under pipefail, grep leaving early
# gives busybox SIGPIPE and the test a skip it did not earn)
[ -x /bin/busybox ] && grep -qx insmod <<<"$(/bin/busybox --list)" || skip "no static busybox"
[ "$(id -u)" = 0 ] || skip "needs root (9p shares of /usr and /etc)"
mkdir -p "$work"
rc=0
"$here/images.sh" "$work" "$( [ "$mode" = bench ] && echo bench || echo test)" || rc=$?
[ $rc = 77 ] && skip "no kernel or Xen image"
[ $rc = 0 ] || exit $rc

log=$work/$mode.log
rm -f "$work/result"
exec 9>/var/tmp/lunar-vm.lock
echo "xen: waiting for /var/tmp/lunar-vm.lock" >&2
flock 9
echo "xen: booting Xen and dom0 ($mode); log in $log" >&2
share() { # DIR TAG [rw]
	local ro=readonly=on,
	[ "${3:-}" = rw ] && ro=
	echo "-virtfs local,path=$1,mount_tag=$2,security_model=none,${ro}multidevs=remap"
}
xencmd="console=com1 com1=115200,8n1 loglvl=warning guest_loglvl=warning dom0_mem=1280M,max:1280M dom0_max_vcpus=1 noreboot"
dom0cmd="console=hvc0 earlyprintk=xen rdinit=/init quiet xtest=$mode lunar_src=$src lunar_build=$build lunar_work=$work lunar_bin=$lunar ${LUNAR_XEN_ARGS:-}"
start=$(date +%s)
set +e
timeout "${LUNAR_XEN_TIMEOUT:-480}" qemu-system-x86_64 -accel tcg -cpu max,-smap -smp 2 -m 3072 \
	-machine pc -nographic -no-reboot -monitor none -serial stdio \
	-kernel "$work/xen" -append "$xencmd" \
	-initrd "$work/vmlinuz $dom0cmd,$work/dom0.cpio.gz" \
	$(share /usr hostusr) $(share /etc hostetc) $(share "$src" src) $(share "$build" build) \
	$(share "$work" work rw) \
	< /dev/null > "$log" 2>&1
qrc=$?
set -e
flock -u 9
echo "xen: VM ran $(( $(date +%s) - start ))s (qemu exit $qrc)" >&2
grep -E "^(DOM0|  domU\| DOMU|  DOMU|XEN-TEST)" "$log" | sed 's/\r$//' || true
if [ -f "$work/result" ] && grep -q "RESULT PASS" "$work/result"; then
	[ -f "$work/speed" ] && sed "s/^/xen: $mode /" "$work/speed"
	exit 0
fi
echo "---- last lines of $log" >&2
tail -60 "$log" >&2
exit 1

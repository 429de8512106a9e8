# Sourced by dom0.sh in mode bench (scripts/bench --xen): one guest, two
# disks of the same size on two vhosts -- lunar (lunar.disk + the ram
# backend, examples/ramdisk.lua) on vhost 0 and the kernel's xen-scsiback
# with an rd_mcp ramdisk on vhost 1 -- and the guest (domu-bench) runs the
# same fio jobs on each.  Its result lines go to $work/bench.txt.
#
# dom0 command line: bench_time, bench_ramp, bench_jobs, bench_backends
# (passed on to the guest); lunar_perf=HZ: perf record -a -g at HZ in dom0
# for the whole run, the reports in $work/perf*.txt; lunar_env=K=V+...:
# lunar's environment.  Lists are separated by + (a comma ends QEMU's
# multiboot module).
size_mib=256
btime=$(arg bench_time)
bramp=$(arg bench_ramp)
bjobs=$(arg bench_jobs | tr + ,)
bbackends=$(arg bench_backends | tr + ,)
perf_hz=$(arg lunar_perf)
rm -f "$work/bench.txt" "$work/perf.txt"

cat > /tmp/lunar.yaml <<YAML
luns:
  - name: bench0
    transport: xen
    handler: $src/examples/ramdisk.lua
    size: ${size_mib}MiB
    args: { vendor: LUNAR, product: bench disk }
YAML
for kv in $(arg lunar_env | tr + ' '); do export "$kv"; done
"$lunar" run /tmp/lunar.yaml --ctl /run/lunar.sock > /tmp/lunar.log 2>&1 &
lunar_pid=$!
for _ in $(seq 60); do grep -q "serving" /tmp/lunar.log && break; sleep 1; done
grep -q "serving" /tmp/lunar.log || die "lunar did not start"

modprobe configfs; mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
modprobe target_core_mod && modprobe xen-scsiback || die "xen-scsiback"
C=/sys/kernel/config/target
mkdir -p $C/core/rd_mcp_0/rd0
echo rd_pages=$((size_mib * 256)) > $C/core/rd_mcp_0/rd0/control
echo 1 > $C/core/rd_mcp_0/rd0/enable
mkdir -p $C/xen-pvscsi/naa.5001405000000001/tpgt_1/lun/lun_0
ln -s $C/core/rd_mcp_0/rd0 $C/xen-pvscsi/naa.5001405000000001/tpgt_1/lun/lun_0/port
echo naa.5001405000000002 > $C/xen-pvscsi/naa.5001405000000001/tpgt_1/nexus
t "lunar and xen-scsiback serving a ${size_mib} MiB RAM disk each"

extra="console=hvc0 rdinit=/init quiet"
for kv in bench_time=$btime bench_ramp=$bramp bench_jobs=$bjobs bench_backends=$bbackends \
	bench_fill=$(arg bench_fill); do
	[ -n "${kv#*=}" ] && extra="$extra $kv"
done
create_domu domu-bench.cpio.gz 768 "$extra"
"$lunar" xen attach $D bench0=0:0:0:0 --type vscsi-lunar --vhost 0 || die "lunar xen attach"
"$lunar" xen attach $D naa.5001405000000001:0=0:0:0:0 --type vscsi --vhost 1 ||
	die "attach xen-scsiback"
if [ -n "$perf_hz" ]; then
	perf record -a -g -F "$perf_hz" -o /tmp/perf.data > /tmp/perf.log 2>&1 &
	perf_pid=$!
fi
xl unpause domu
t "domU $D started: lunar on vhost 0, xen-scsiback on vhost 1"
# as wait_guest, but looking every 5 s: dom0's CPU is what is measured
seen=0
for i in $(seq 0 5 3000); do
	tr -d '\r' < /var/log/xen/console/guest-domu.log > /tmp/g 2>/dev/null
	n=$(grep -c "^DOMU" /tmp/g)
	[ "$n" -gt "$seen" ] && grep "^DOMU" /tmp/g | tail -n +$((seen + 1)) | sed 's/^/  /'
	seen=$n
	grep -q "DOMU: FAIL" /tmp/g && die "guest: $(grep -m1 'DOMU: FAIL' /tmp/g)"
	grep -q "Kernel panic" /tmp/g && die "the guest kernel panicked"
	grep -q "DOMU: BENCH DONE" /tmp/g && break
	[ $i = 3000 ] && die "the guest did not finish within 3000 s"
	sleep 5
done
if [ -n "$perf_hz" ]; then
	kill -INT $perf_pid
	wait $perf_pid
	perf report -i /tmp/perf.data --stdio --no-children --sort comm -g none \
		> "$work/perf.txt" 2>&1
	perf report -i /tmp/perf.data --stdio --no-children --sort comm,dso,sym -g none \
		--percent-limit 0.2 >> "$work/perf.txt" 2>&1
	perf report -i /tmp/perf.data --stdio --no-children --sort comm,sym -g caller,0.5,callee \
		--percent-limit 1 > "$work/perf-callers.txt" 2>&1
	t "perf report in $work/perf.txt"
fi
for _ in $(seq 30); do xl list domu >/dev/null 2>&1 || break; sleep 1; done
domu_log | grep "^DOMU: BENCH .* iops=" > "$work/bench.txt"
"$build/lunarctl" --ctl /run/lunar.sock status 2>&1 | sed 's/^/  status| /'
kill -TERM $lunar_pid
wait $lunar_pid
rc=$?
sed 's/^/  lunar| /' /tmp/lunar.log | tail -20
cp /tmp/lunar.log "$work/bench-lunar.log"
[ $rc = 0 ] || die "lunar exited with $rc"
[ -s "$work/bench.txt" ] || die "no bench results"
result PASS
finish

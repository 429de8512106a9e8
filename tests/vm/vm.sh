#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vm.sh: runs a script as root inside a throwaway Linux VM and exits with
# its status.  The VM is the host's Debian kernel under QEMU (TCG: no KVM
# needed) with the host's root filesystem shared read-only over 9p under a
# tmpfs overlay, so every host binary and build directory is there at the
# same path and nothing the guest writes survives it.
#
#   tests/vm/vm.sh [options] SCRIPT [ARGS...]
#
#   --timeout SEC   the VM's wall-clock limit (default 600): exit 124 when it
#                   is hit (waiting for the lock below is not counted:
#                   LUNAR_VM_LOCK_WAIT, default 3600 s, bounds that)
#   --mem MB        guest memory (default 2048)
#   --shell         after SCRIPT, an interactive root shell in the guest on
#                   this terminal (exit it to power the VM off)
#   --out DIR       a host directory the guest may write, as $LUNAR_VM_OUT
#   --env NAME=VAL  exported in the guest (repeatable)
#
# Exit status: SCRIPT's, 124 on timeout, 125 when the VM itself failed
# (then the end of the guest's kernel log is printed), 77 when this host
# cannot run it (no QEMU or no kernel image: scripts/setup vm installs them).
#
# One VM at a time on this machine: every user of /var/tmp/lunar-vm.lock
# (this harness, and the Xen labs) waits for the others.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout_s=600
mem=2048
shell=0
out=
envs=()

die() { echo "vm.sh: $*" >&2; exit 125; }
skip() { echo "vm.sh: SKIP: $*" >&2; exit 77; }

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout_s=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--shell) shell=1; shift ;;
	--out) out=$(cd "$2" && pwd) || die "--out: no directory $2"; shift 2 ;;
	--env) envs+=("$2"); shift 2 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || die "usage: vm.sh [options] SCRIPT [ARGS...]"
script=$(readlink -f "$1") || die "no script $1"
shift
[ -f "$script" ] || die "no script $script"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (scripts/setup vm)"
[ -x /bin/busybox ] || skip "busybox-static is not installed (scripts/setup vm)"
kver=${LUNAR_VM_KERNEL:-}
if [ -z "$kver" ]; then
	for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
		if [ -d "/lib/modules/${k#/boot/vmlinuz-}/kernel/drivers/target" ]; then
			kver=${k#/boot/vmlinuz-}
			break
		fi
	done
fi
[ -n "$kver" ] || skip "no kernel with LIO modules in /boot (scripts/setup vm installs linux-image-amd64)"
kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || skip "cannot read $kernel"

cache=${LUNAR_VM_CACHE:-/var/tmp/lunar-vm-cache}
mkdir -p "$cache" || die "cannot create $cache"

# ---- the kernel as an ELF, booted through its PVH note -------------------------------
# Under TCG, decompressing the bzImage costs seconds per boot; QEMU boots the
# uncompressed vmlinux directly when it carries a PVH entry (Debian's does).
py=$(command -v /usr/bin/python3 python3 2>/dev/null | head -n 1)
vmlinux=$cache/vmlinux-$kver-$(stat -c %s-%Y "$kernel")
if [ ! -s "$vmlinux" ] && [ -n "$py" ]; then
	"$py" - "$kernel" "$vmlinux.tmp.$$" <<'PY' && mv "$vmlinux.tmp.$$" "$vmlinux"
import lzma, sys, zlib
img = open(sys.argv[1], "rb").read()
def candidates():
    for magic, unpack in ((b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor().decompress(b)),
                          (b"\x1f\x8b\x08", lambda b: zlib.decompressobj(31).decompress(b))):
        at = img.find(magic)
        while at >= 0:
            try:
                yield unpack(img[at:])
            except Exception:
                pass
            at = img.find(magic, at + 1)
for elf in candidates():
    # an ELF with the Xen/PVH note ("Xen\0", type 18)
    if elf[:4] == b"\x7fELF" and b"\x12\x00\x00\x00Xen\x00" in elf:
        open(sys.argv[2], "wb").write(elf)
        sys.exit(0)
sys.exit(1)
PY
	rm -f "$vmlinux.tmp.$$"
fi
[ -s "$vmlinux" ] && kernel=$vmlinux

# ---- initramfs: busybox, the modules to reach the host root, init.sh -----------------
init_modules="virtio_pci 9pnet_virtio 9p overlay"
key=$({ echo "$kver $init_modules"; cat "$here/init.sh"; stat -c %s-%Y /bin/busybox "/boot/vmlinuz-$kver"; } |
	md5sum | cut -c1-16)
initrd=$cache/initramfs-$kver-$key.cpio
if [ ! -s "$initrd" ]; then
	stage=$(mktemp -d "$cache/stage.XXXXXX") || die "mktemp"
	mkdir -p "$stage"/{bin,dev,proc,sys,mnt,modules}
	cp /bin/busybox "$stage/bin/busybox"
	cp "$here/init.sh" "$stage/init"
	chmod 755 "$stage/init"
	for m in $init_modules; do
		modprobe --show-depends -S "$kver" "$m" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' >"$stage/modules.paths"
	[ -s "$stage/modules.paths" ] || die "cannot resolve the modules $init_modules for $kver"
	while read -r ko; do
		base=$(basename "$ko")
		case $ko in
		*.xz) xz -dc "$ko" >"$stage/modules/${base%.xz}"; base=${base%.xz} ;;
		*.zst) zstd -qdc "$ko" >"$stage/modules/${base%.zst}"; base=${base%.zst} ;;
		*) cp "$ko" "$stage/modules/$base" ;;
		esac
		echo "$base" >>"$stage/modules/order"
	done <"$stage/modules.paths"
	rm "$stage/modules.paths"
	(cd "$stage" && find . | cpio -o -H newc --quiet >"$initrd.tmp.$$") &&
		mv "$initrd.tmp.$$" "$initrd" || die "cpio failed"
	rm -rf "$stage"
fi

# ---- the run directory: the guest's way back (status, env, job) ----------------------
run=$(mktemp -d /var/tmp/lunar-vm.XXXXXX) || die "mktemp"
qpid=
cleanup()
{
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
{
	printf 'export LUNAR_VM_CWD=%q\n' "$PWD"
	printf 'export LUNAR_VM_SCRIPT=%q\n' "$script"
	printf 'export LUNAR_VM_SHELL=%q\n' "$shell"
	printf 'export LUNAR_VM_OUT=%q\n' "${out:+/run/out}"
	for v in LUNAR LUNARCTL LUNAR_SOURCE_DIR LUNAR_BUILD_DIR LUNAR_TEST_VERBOSE ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
	done
	for e in "${envs[@]}"; do
		printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
	done
} >"$run/env"
cp "$here/guest.sh" "$run/guest.sh" || die "no $here/guest.sh"
: >"$run/args"
for a in "$@"; do printf '%s\0' "$a" >>"$run/args"; done
shares=(
	-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
	-device "virtio-9p-pci,fsdev=root,mount_tag=hostroot"
	-fsdev "local,id=xfer,path=$run,security_model=none"
	-device "virtio-9p-pci,fsdev=xfer,mount_tag=xfer"
)
# The guest mounts fresh tmpfs on /tmp, /var/tmp, /run, /mnt and /dev/shm,
# hiding the host's: a tree there (a CI clone in /tmp, a build directory
# in /var/tmp) is shared by itself and mounted back at its own path, under
# a tmpfs overlay like the rest of the host (written files stay in the VM).
masked() { case $1/ in /tmp/* | /var/tmp/* | /run/* | /mnt/* | /dev/shm/*) return 0 ;; esac; return 1; }
trees=()
# outermost first (this tree itself), so a directory inside one shared is
# not shared again
while read -r d; do
	for t in "${trees[@]}"; do
		case $d/ in "$t"/*) continue 2 ;; esac
	done
	trees+=("$d")
done < <(for d in "$here/../.." "${LUNAR_SOURCE_DIR:-}" "${LUNAR_BUILD_DIR:-}" \
		"$(dirname "${LUNAR:-/}")" "$(dirname "$script")" "$PWD"; do
		[ -n "$d" ] && [ -d "$d" ] && masked "$d" && (cd "$d" && pwd -P)
	done | awk '{ print length($0) " " $0 }' | sort -n | cut -d' ' -f2-)
: >"$run/trees"
for i in "${!trees[@]}"; do
	[ "$i" -lt 4 ] || die "more than 4 directories under the guest's tmpfs: ${trees[*]}"
	shares+=(-fsdev "local,id=tree$i,path=${trees[$i]},security_model=none,readonly=on,multidevs=remap"
		 -device "virtio-9p-pci,fsdev=tree$i,mount_tag=tree$i")
	printf 'tree%s %s\n' "$i" "${trees[$i]}" >>"$run/trees"
done
if [ -n "$out" ]; then
	shares+=(-fsdev "local,id=out,path=$out,security_model=none"
		 -device "virtio-9p-pci,fsdev=out,mount_tag=out")
fi

# ---- one VM at a time ------------------------------------------------------------------
# fd 9 goes to QEMU too: the lock lives exactly as long as the VM.
exec 9>>/var/tmp/lunar-vm.lock
if ! flock -n 9; then
	echo "vm.sh: another VM runs on this machine; waiting for /var/tmp/lunar-vm.lock" >&2
	# other VMs (benchmarks, Xen labs) may hold it long: the wait is not
	# the VM's time
	flock -w "${LUNAR_VM_LOCK_WAIT:-3600}" 9 || die "gave up waiting for /var/tmp/lunar-vm.lock"
fi

# ttyS0: the kernel's console, to a file; ttyS1: the job (or the shell), here.
append="console=ttyS0 loglevel=4 quiet panic=-1 mitigations=off tsc=reliable random.trust_cpu=on"
pdeath=()
setpriv --help 2>/dev/null | grep -q pdeathsig && pdeath=(setpriv --pdeathsig KILL --)
stdin=/dev/null
tmo=(timeout -k 5 "$timeout_s")
if [ "$shell" = 1 ]; then
	# QEMU reads the terminal: it must stay in its foreground process group
	stdin=/dev/stdin
	tmo=(timeout --foreground -k 5 "$timeout_s")
fi
"${pdeath[@]}" "${tmo[@]}" qemu-system-x86_64 \
	-accel tcg -machine pc -cpu max -smp 1 -m "$mem" \
	-nodefaults -no-user-config -display none -no-reboot -nic none \
	-kernel "$kernel" -initrd "$initrd" -append "$append" \
	-chardev "file,id=console,path=$run/console.log" -serial chardev:console \
	-chardev "stdio,id=job,signal=off" -serial chardev:job \
	"${shares[@]}" <"$stdin" &
qpid=$!
wait "$qpid"
qrc=$?
qpid=
if [ -s "$run/rc" ]; then
	rc=$(cat "$run/rc")
elif [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "vm.sh: TIMEOUT: the VM was stopped after ${timeout_s}s" >&2
	rc=124
else
	echo "vm.sh: the guest reported no status (qemu exited $qrc)" >&2
	rc=125
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 125 ] || [ -n "${LUNAR_VM_CONSOLE:-}" ]; then
	echo "---- guest kernel log (end)" >&2
	tail -n 60 "$run/console.log" >&2
fi
exit "$rc"

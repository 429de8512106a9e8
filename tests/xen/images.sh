#!/usr/bin/env bash
# Builds what the Xen test VM boots, into $1 (a directory of the build tree):
#   xen          Xen 4.17 as a multiboot ELF for QEMU -kernel
#   vmlinuz      the host's kernel: dom0 and the PV domU both run it
#   dom0.cpio.gz busybox + 9p/overlay modules; /init mounts the host's /usr
#                and /etc and the lunar tree over 9p and runs dom0.sh
#   domu.cpio.gz busybox, xen-scsifront/sd/sg/ext4 modules, sg_inq, mke2fs,
#                e2fsck and their libraries; /init is domu-init
#   domu-bench.cpio.gz  with $2 = bench: busybox, xen-scsifront/sd modules,
#                fio and its libraries (about 80 MiB: the guest needs the
#                memory); /init is domu-bench
# Rebuilt only when an input is newer.
set -euo pipefail
out=$1
what=${2:-test}
here=$(cd "$(dirname "$0")" && pwd)
kver=${LUNAR_XEN_KVER:-}
if [ -z "$kver" ]; then
	for k in $(ls -1 /lib/modules 2>/dev/null | sort -V -r); do
		[ -f "/boot/vmlinuz-$k" ] && { kver=$k; break; }
	done
fi
[ -n "$kver" ] || { echo "images: no kernel with modules in /boot and /lib/modules" >&2; exit 77; }
xen=$(ls -1 /boot/xen-4.*-amd64.gz 2>/dev/null | sort -V | tail -1)
[ -n "$xen" ] || { echo "images: no Xen hypervisor in /boot (scripts/setup xen)" >&2; exit 77; }
mkdir -p "$out"
mods=/lib/modules/$kver

# modules NAME... in load order, dependencies first (from modules.dep)
modlist() {
	local seen=" " m line path deps p
	for m in "$@"; do
		line=$(grep -E "/${m//[-_]/[-_]}\.ko(\.xz|\.zst)?:" "$mods/modules.dep" | head -1)
		[ -n "$line" ] || { echo "images: no module $m for $kver" >&2; exit 1; }
		path=${line%%:*}
		deps=${line#*:}
		for p in $(printf '%s\n' $deps | tac) $path; do
			case "$seen" in *" $p "*) ;; *) seen="$seen$p "; echo "$p" ;; esac
		done
	done
}

# copies binaries (to /usr/bin: /bin is busybox's) and the libraries they
# load into root $1
add_bins() {
	local root=$1 b l
	shift
	for b in "$@"; do
		install -D -m755 "$b" "$root/usr/bin/$(basename "$b")"
		for l in $(ldd "$b" | grep -oE '/[^ ]+\.so[^ ]*'); do
			[ -e "$root$l" ] || install -D -m755 "$l" "$root$l"
		done
	done
}

initramfs() { # root out
	(cd "$1" && find . | cpio -o -H newc --quiet) | gzip -1 > "$2.tmp"
	mv "$2.tmp" "$2"
}

newer() { # target inputs...: true if target is missing or older than an input
	local t=$1 i
	shift
	[ -e "$t" ] || return 0
	for i in "$@"; do [ "$i" -nt "$t" ] && return 0; done
	return 1
}

if newer "$out/xen" "$xen"; then
	zcat "$xen" > "$out/xen.tmp" && mv "$out/xen.tmp" "$out/xen"
fi
newer "$out/vmlinuz" "/boot/vmlinuz-$kver" && cp "/boot/vmlinuz-$kver" "$out/vmlinuz"

if newer "$out/dom0.cpio.gz" "$here/dom0-init" "$0"; then
	r=$(mktemp -d)
	mkdir -p "$r"/{bb,dev,proc,sys,usr,etc,run,tmp,var,mnt,root,modules}
	cp /bin/busybox "$r/bb/busybox"
	ln -s usr/bin "$r/bin"; ln -s usr/sbin "$r/sbin"; ln -s usr/lib "$r/lib"; ln -s usr/lib64 "$r/lib64"
	for p in $(modlist virtio_pci 9pnet_virtio 9p overlay); do
		cp "$mods/$p" "$r/modules/"
		basename "$p" >> "$r/modules/order"
	done
	install -m755 "$here/dom0-init" "$r/init"
	initramfs "$r" "$out/dom0.cpio.gz"
	rm -rf "$r"
fi

if newer "$out/domu.cpio.gz" "$here/domu-init" "$0"; then
	r=$(mktemp -d)
	mkdir -p "$r"/{bin,dev,proc,sys,tmp,mnt,etc,modules}
	cp /bin/busybox "$r/bin/busybox"
	for p in $(modlist xen-scsifront sd_mod sg crc32c_generic ext4); do
		cp "$mods/$p" "$r/modules/"
		basename "$p" >> "$r/modules/order"
	done
	add_bins "$r" "$(command -v sg_inq)" "$(command -v mke2fs)" "$(command -v e2fsck)"
	[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$r/etc/"
	install -m755 "$here/domu-init" "$r/init"
	initramfs "$r" "$out/domu.cpio.gz"
	rm -rf "$r"
fi

if [ "$what" = bench ] && newer "$out/domu-bench.cpio.gz" "$here/domu-bench" "$0"; then
	command -v fio >/dev/null || { echo "images: no fio (scripts/setup xen)" >&2; exit 77; }
	r=$(mktemp -d)
	mkdir -p "$r"/{bin,dev,proc,sys,tmp,mnt,etc,modules}
	cp /bin/busybox "$r/bin/busybox"
	for p in $(modlist xen-scsifront sd_mod); do
		cp "$mods/$p" "$r/modules/"
		basename "$p" >> "$r/modules/order"
	done
	add_bins "$r" "$(command -v fio)"
	install -m755 "$here/domu-bench" "$r/init"
	initramfs "$r" "$out/domu-bench.cpio.gz"
	rm -rf "$r"
fi

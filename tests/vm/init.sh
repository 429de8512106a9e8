#!/bin/busybox sh
# SPDX-License-Identifier: MIT
#
# PID 1 of the vm.sh initramfs.  Builds the guest's root: the host's / (9p,
# read-only) under a tmpfs overlay, fresh tmpfs on the scratch directories,
# then switch_root into it (not chroot: the kernel's usermode helpers, e.g.
# request_module -> /sbin/modprobe, resolve paths in PID 1's root) and runs
# tests/vm/guest.sh from the host tree.  Whatever happens, the VM powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fatal()
{
	echo "vm init: $*"
	echo "vm init: powering off"
	poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger
}

while read -r ko; do
	insmod "/modules/$ko" || echo "vm init: insmod $ko failed"
done </modules/order

o9p=trans=virtio,version=9p2000.L,msize=512000
mkdir -p /xfer /host /rw /root
mount -t 9p -o "$o9p,cache=none" xfer /xfer || fatal "no xfer share"
mount -t 9p -o "$o9p,cache=loose,ro" hostroot /host || fatal "no host root share"
mount -t tmpfs -o mode=755,size=75% rw /rw || fatal "no tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /root ||
	fatal "no overlay"
for m in xfer proc sys dev; do
	mkdir -p "/root/$m"
	mount --move "/$m" "/root/$m"
done
mkdir -p /root/dev/pts /root/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /root/dev/pts
# udev is not running: the links bash and friends expect
ln -sf /proc/self/fd /root/dev/fd
ln -sf /proc/self/fd/0 /root/dev/stdin
ln -sf /proc/self/fd/1 /root/dev/stdout
ln -sf /proc/self/fd/2 /root/dev/stderr
for d in tmp dev/shm var/tmp; do
	mount -t tmpfs -o mode=1777 tmpfs "/root/$d"
done
for d in run mnt; do
	mount -t tmpfs -o mode=755 tmpfs "/root/$d"
done
# trees the host keeps under what is tmpfs here (vm.sh: /xfer/trees), at
# their own paths, written files kept in the VM
while read -r tag path; do
	mkdir -p "/rw/$tag/lower" "/rw/$tag/upper" "/rw/$tag/work" "/root$path"
	mount -t 9p -o "$o9p,cache=loose,ro" "$tag" "/rw/$tag/lower" || fatal "no share $tag"
	mount -t overlay overlay -o "lowerdir=/rw/$tag/lower,upperdir=/rw/$tag/upper,workdir=/rw/$tag/work" \
		"/root$path" || fatal "no overlay on $path"
done </root/xfer/trees
if grep -q '^out$' /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null; then
	mkdir -p /root/run/out
	mount -t 9p -o "$o9p,cache=none" out /root/run/out
fi
ip link set lo up
hostname lunar-vm

exec switch_root /root /bin/busybox sh -c '
	/bin/bash /xfer/guest.sh
	echo "$?" >/xfer/rc
	sync
	/bin/busybox poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger'
fatal "switch_root failed"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# examples/readonly-image.lua serves an image read-only whatever the YAML
# says: reads return the image's bytes; MODE SENSE sets WP; writes get
# 7/27/00; the file is untouched.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

head -c $((1 << 20)) /dev/urandom >"$TESTDIR/image.iso"
sum=$(md5sum <"$TESTDIR/image.iso")
disk_config iso0 readonly-image.lua 1MiB "path: $TESTDIR/image.iso, readonly: false"
start_lunar "$TESTDIR/lunar.yaml"

cdb iso0 "$(cdb10 0x28 8 4)" --read 2048
expect_good
expect_data "$(dd if="$TESTDIR/image.iso" bs=512 skip=8 count=4 status=none | od -An -v -tx1 | tr -d ' \n')"
cdb iso0 1a003f000400 --read 4
expect_data 43009008
cdb iso0 "$(cdb10 0x2a 8 1)" --data-out-hex "$(zeros_hex 512)"
expect_sense 7 27 00
cdb iso0 "$(cdb16 0x93 0 16 0x09)"
expect_sense 7 27 00
[ "$(md5sum <"$TESTDIR/image.iso")" = "$sum" ] || fail "the image changed"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The repository's config.yaml, run as an operator would: INQUIRY returns
# the vendor and product the config sets, TEST UNIT READY is GOOD, READ
# CAPACITY(10) describes the 64MiB LUN.
source "$(dirname "$0")/lib.sh"

config=$LUNAR_SOURCE_DIR/config.yaml
# the values of hello0's args (plain or quoted YAML scalars)
arg()
{
	sed -n "s/^ *$1: *//p" "$config" | head -n 1 | sed -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
}
vendor=$(arg vendor)
product=$(arg product)
if [ -z "$vendor" ] || [ -z "$product" ]; then
	fail "$config sets no vendor/product for hello0"
fi
start_lunar "$config"

# INQUIRY, allocation length 96: 36 bytes of standard data, 60 short
cdb hello0 120000006000 --read 96
expect_good
expect_data_len 36
expect_residual 60
expect_data_bytes 0 00      # direct access block device
expect_data_bytes 2 06      # version: SPC-4
expect_data_bytes 8 "$(printf '%-8.8s%-16.16s' "$vendor" "$product" | od -An -v -tx1)"

cdb hello0 000000000000
expect_good
expect_data ""

# READ CAPACITY(10): last LBA 131071, 512-byte blocks
expect_lun hello0 size 67108864
expect_lun hello0 block_size 512
cdb hello0 25000000000000000000 --read 8
expect_good
expect_data 0001ffff00000200
expect_residual 0

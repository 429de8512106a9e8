#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# examples/fortune.lua: each block is made up when read, "block N:" and a
# saying, space padded, ending in a newline; the same block reads the same
# every time; several blocks in one READ; 4096-byte blocks; the disk is
# write protected.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/disk.sh"

write_file lunar.yaml <<YAML
luns:
  - {name: f0, transport: sim, handler: $EXAMPLES/fortune.lua, size: 1MiB}
  - {name: f1, transport: sim, handler: $EXAMPLES/fortune.lua, size: 1MiB, block_size: 4096, args: {fortunes: [hello, world]}}
YAML
start_lunar "$TESTDIR/lunar.yaml"

cdb f0 "$(cdb10 0x28 7 1)" --read 512
expect_good
line=$(printf '%s' "$(_field .data)" | sed 's/../\\x&/g')
line=$(printf "$line")
[[ $line == "block 0000000007: Any sufficiently advanced technology is indistinguishable from magic."* ]] ||
	fail "block 7 reads '${line:0:80}'"
expect_data_bytes 511 0a
expect_data_bytes 100 2020
first=$(_field .data)
cdb f0 "$(cdb10 0x28 6 3)" --read 1536
expect_data_bytes 512 "$first"

cdb f1 "$(cdb10 0x28 255 1)" --read 4096
expect_data_bytes 0 "$(printf 'block 0000000255: world ' | od -An -tx1 | tr -d ' \n')"
expect_data_bytes 4095 0a
cdb f1 "$(cdb10 0x28 254 1)" --read 4096
expect_data_bytes 0 "$(printf 'block 0000000254: hello ' | od -An -tx1 | tr -d ' \n')"

cdb f0 "$(cdb10 0x2a 7 1)" --data-out-hex "$(zeros_hex 512)"
expect_sense 7 27 00

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# An opcode the handler does not implement gets CHECK CONDITION 5/20/00
# INVALID COMMAND OPERATION CODE: a standard one (REPORT LUNS) and a vendor
# one (c0h, a 10-byte CDB).
source "$(dirname "$0")/lib.sh"

start_lunar "$LUNAR_SOURCE_DIR/config.yaml"

cdb hello0 a00000000000000001000000 --read 256
expect_sense 5 20 00
expect_data ""

cdb hello0 c0000000000000000000
expect_sense 5 20 00

# the LUN is not upset by it
cdb hello0 000000000000
expect_good

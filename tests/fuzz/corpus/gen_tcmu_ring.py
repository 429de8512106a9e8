#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_tcmu_ring: TCMU maps a kernel (or a broken
one) might lay out, and the steps of the producer and the daemon over them.
The input format is described at the top of tests/fuzz/fuzz_tcmu_ring.c."""
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tcmu_ring")
os.makedirs(here, exist_ok=True)

MB = 128
OOOC, READ_LEN, TMR, KEEP_BUF = 1, 2, 4, 8
OP_PAD, OP_CMD, OP_TMR = 0, 1, 2
READ10 = b"\x28\0\0\0\0\x08\0\0\x01\0"
TUR = b"\0" * 6
READ16 = b"\x88" + b"\0" * 12 + b"\x01\0\0"
READ32 = b"\x7f\0\0\0\0\0\0\x18\x00\x09" + b"\0" * 22
CDB48 = b"\x7f\0\0\0\0\0\0\x28" + b"\0" * 40


class Ring:
    def __init__(self, sel=8, data_sel=64, tail=0, flags=OOOC | READ_LEN | TMR):
        self.size = 224 + 32 * sel
        self.sel, self.data_sel, self.flags = sel, data_sel, flags
        self.data_off = MB + self.size
        self.data_size = data_sel % 129 * 512
        self.img = bytearray(self.size)
        self.tail = self.head = tail

    def put(self, e):
        self.img[self.head:self.head + len(e)] = e
        self.head = (self.head + len(e)) % self.size

    def pad(self):
        self.put(struct.pack("<IHBB", (self.size - self.head) | OP_PAD, 0, 0, 0))
        self.head = 0

    def cmd_bytes(self, at, cid, cdb, iovs=(), bidi=0, raw_iovs=None, cdb_off=None, len_op=None):
        n = len(iovs) + bidi if raw_iovs is None else len(raw_iovs)
        base = max(48 + 16 * (len(iovs) if raw_iovs is None else n), 112)
        length = base + ((len(cdb) + 7) & ~7)
        e = bytearray(length)
        struct.pack_into("<IHBB", e, 0, (length | OP_CMD) if len_op is None else len_op, cid, 0, 0)
        cnt = len(iovs) - bidi if raw_iovs is None else n
        struct.pack_into("<III4xQ", e, 8, cnt, bidi if raw_iovs is None else 0, 0,
                         MB + at + base if cdb_off is None else cdb_off)
        vecs = raw_iovs if raw_iovs is not None else [(self.data_off + o, l) for o, l in iovs]
        for i, (b, l) in enumerate(vecs):
            struct.pack_into("<QQ", e, 48 + 16 * i, b, l)
        e[base:base + len(cdb)] = cdb
        return bytes(e)

    def cmd(self, cid, cdb=TUR, iovs=(), **kw):
        if self.size - self.head < len(self.cmd_bytes(self.head, cid, cdb, iovs, **kw)):
            self.pad()
        at = self.head
        self.put(self.cmd_bytes(at, cid, cdb, iovs, **kw))
        return at

    def tmr(self, typ, ids, cnt=None):
        e = bytearray(32 + ((2 * len(ids) + 7) & ~7))
        struct.pack_into("<IHBBBBHI", e, 0, len(e) | OP_TMR, 0, 0, 0, typ, 0, 0,
                         len(ids) if cnt is None else cnt)
        for i, v in enumerate(ids):
            struct.pack_into("<H", e, 32 + 2 * i, v)
        self.put(bytes(e))

    def raw(self, len_op, cid=0, length=None):
        e = bytearray(length or (len_op & ~7))
        struct.pack_into("<IHBB", e, 0, len_op, cid, 0, 0)
        self.put(bytes(e))

    def blob(self, script, head=None, mode=0, version=2, cmdr_off=MB, cmdr_size=None, tail=None):
        hdr = struct.pack("<BBHHHHHHHII8x", mode, self.sel, self.flags, self.data_sel,
                          self.tail if tail is None else tail, self.head if head is None else head,
                          len(script), version, 0, cmdr_off, self.size if cmdr_size is None else cmdr_size)
        assert len(hdr) == 32
        return hdr + script + bytes(self.img)


# script steps
def NEXT(): return b"\x00"
def DRAIN(): return b"\x01"
def HEAD(v): return b"\x02" + struct.pack("<H", v)
def HEAD_ADD(n8): return b"\x03" + struct.pack("<H", n8)
def DONE(how=0): return b"\x04" + bytes([how])
def DONE_ANY(i, how=0): return b"\x05" + bytes([i, how])
def DONE_ID(cid, how=0): return b"\x06" + struct.pack("<HB", cid, how)
def WRITE(off8, data): return b"\x07" + struct.pack("<HB", off8, len(data) // 8) + data
def MAILBOX(at, data): return b"\x08" + bytes([at, len(data)]) + data


seeds = {}

r = Ring()
r.cmd(7, READ10, [(0, 4096), (8192, 1024)])
seeds["read10"] = r.blob(DRAIN() + DONE())

r = Ring()
for i in range(3):
    r.cmd(11 + i, READ10 if i != 1 else TUR, [(4096 * i, 4096)] if i != 1 else [])
seeds["out_of_order"] = r.blob(NEXT() * 3 + DONE_ANY(2, 0x11) + DONE_ANY(0, 1) + DONE())

r = Ring(flags=READ_LEN)
r.cmd(1)
r.cmd(2)
seeds["in_order_without_oooc"] = r.blob(DRAIN() + DONE_ANY(1) + DONE() + DONE())

r = Ring(tail=224 + 32 * 8 - 64)
r.cmd(9, TUR)	# does not fit in the 64 bytes left: PAD, then at 0
seeds["pad_at_wrap"] = r.blob(DRAIN() + DONE())

r = Ring(tail=224 + 32 * 8 - 128)
r.cmd(4, READ16, [(0, 512)])	# its last CDB byte is the ring's last byte
seeds["cdb_at_ring_end"] = r.blob(DRAIN() + DONE())

r = Ring()
r.cmd(21, TUR)
r.tmr(1, [21, 99])
r.tmr(5, [], cnt=1000000)
r.cmd(22, TUR)
seeds["tmr"] = r.blob(DRAIN() + DONE() + DONE())

r = Ring()
r.raw(32 | 3)
r.cmd(6, TUR)
seeds["unknown_op"] = r.blob(DRAIN() + DONE(4 | 1))

r = Ring()
r.cmd(3, b"\x53" + b"\0" * 9, [(0, 4096), (4096, 512), (16384, 2048)], bidi=1)
seeds["bidi"] = r.blob(DRAIN() + DONE())

r = Ring()
r.cmd(1, READ32)
r.cmd(2, CDB48)
seeds["long_cdbs"] = r.blob(DRAIN() + DONE() + DONE())

r = Ring(data_sel=0)
r.cmd(1, READ10, raw_iovs=[(r.data_off, 0)])
seeds["no_data_area"] = r.blob(DRAIN() + DONE())

r = Ring(sel=16)
r.cmd(1, READ10, [(r.data_size - 512, 1024)])
r.cmd(2, READ10, raw_iovs=[(r.data_off, 2 ** 64 - 1)])
r.cmd(3, READ10, raw_iovs=[(MB, 512)])
r.cmd(4)
seeds["iov_outside_data_area"] = r.blob(DRAIN() + DONE() + DONE() + DONE() + DONE())

r = Ring(sel=16)
r.cmd(1, TUR, raw_iovs=[])
struct.pack_into("<II", r.img, 8, 0xffffffff, 0xffffffff)
r.cmd(2, TUR, cdb_off=1 << 40)
at = r.cmd(3, TUR)
r.img[at + 112] = 0x88	# a 16-byte opcode in room for 8
r.cmd(4)
seeds["bad_entries"] = r.blob(DRAIN() + DONE() * 4)

for name, make in {
    "len_zero": lambda r: r.raw(0 | OP_CMD, 1, 128),
    "len_past_ring_end": lambda r: r.raw((r.size * 2) | OP_PAD, 0, 8),
    "short_cmd": lambda r: r.raw(64 | OP_CMD, 1),
    "cmd_id_zero": lambda r: r.cmd(0, TUR),
    "short_tmr": lambda r: r.raw(16 | OP_TMR, 0),
}.items():
    r = Ring()
    make(r)
    r.cmd(5)
    seeds["broken_" + name] = r.blob(DRAIN() + DONE())

# Commands outstanding when the ring breaks are still answered.
r = Ring(flags=READ_LEN)
r.cmd(1)
r.cmd(2)
r.raw(0 | OP_CMD, 3, 128)
seeds["complete_after_broken"] = r.blob(DRAIN() + DONE_ANY(1) + DONE() + DONE())

r = Ring()
r.cmd(1)
seeds["broken_len_past_head"] = r.blob(DRAIN(), head=64)
seeds["broken_head_outside"] = r.blob(HEAD(r.size + 64) + DRAIN())
seeds["broken_head_unaligned"] = r.blob(HEAD(12) + DRAIN())
seeds["mailbox_version_1"] = r.blob(DRAIN(), mode=1, version=1)
seeds["mailbox_cmdr_off_in_mailbox"] = r.blob(DRAIN(), mode=1, cmdr_off=64)
seeds["mailbox_ring_too_big"] = r.blob(DRAIN(), mode=1, cmdr_size=r.size * 64)
seeds["mailbox_tail_unaligned"] = r.blob(DRAIN(), tail=12)
seeds["mailbox_moved_ring"] = r.blob(DRAIN() + DONE(), mode=1, cmdr_off=MB + 256, cmdr_size=r.size - 256)

# The producer keeps going: entries written as slots free up, wrapping many
# times; completions newest first.
r = Ring(sel=10)
script = b""
pos, cid = 0, 1
for rnd in range(12):
    ids = []
    for j in range(2):
        e = r.cmd_bytes(pos, cid, READ16, [(512 * j, 512)] * (rnd % 3))
        if r.size - pos < len(e):
            script += WRITE((pos - r.tail) % r.size // 8, struct.pack("<IHBB", r.size - pos, 0, 0, 0))
            pos = 0
            e = r.cmd_bytes(pos, cid, READ16, [(512 * j, 512)] * (rnd % 3))
        script += WRITE((pos - r.tail) % r.size // 8, e)
        pos = (pos + len(e)) % r.size
        ids.append(cid)
        cid += 1
    assert 0 < (pos - r.tail) % r.size < r.size - 8	# a kernel never fills the ring
    script += HEAD_ADD((pos - r.tail) % r.size // 8) + DRAIN()
    script += DONE_ID(ids[1]) + DONE_ID(ids[0], 0x11)
    r.tail = pos
r.tail = r.head = 0
seeds["producer_wraps"] = r.blob(script)

# The producer publishes a head past our cmd_tail: we are made to consume
# entries we hold.
r = Ring(sel=0)
r.cmd(1)
r.pad()
seeds["head_laps"] = r.blob(HEAD(120) + NEXT() + HEAD(0) + NEXT() + HEAD(120) + NEXT() + DONE() * 2)

# The producer rewrites its mailbox fields after init.
r = Ring()
r.cmd(1, READ10, [(0, 512)])
r.cmd(2, TUR)
seeds["mailbox_rewritten"] = r.blob(NEXT() + MAILBOX(0, struct.pack("<HHII", 2, 0, MB, r.size * 2)) +
                                    MAILBOX(2, b"\0\0") + DRAIN() + DONE() + DONE())

# ... cmdr_off moved by 1 MiB, and a CDB offset that agrees with it: the
# ring stays where init found it (found by the fuzzer: decode_cmd() took
# the entry's place from the mailbox again, and read the CDB 1 MiB away).
r = Ring()
r.cmd(1, TUR)
at = r.cmd(2, TUR, cdb_off=MB + (1 << 20) + 120 + 112)
seeds["mailbox_cmdr_off_moved"] = r.blob(NEXT() + MAILBOX(4, struct.pack("<I", MB + (1 << 20))) +
                                         DRAIN() + DONE() + DONE())

for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)

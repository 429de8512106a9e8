#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_xen_ring: ring pages a frontend might publish."""
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xen_ring")
os.makedirs(here, exist_ok=True)


def req(rqid, act=1, cdb=b"\x28\0\0\0\0\0\0\0\x08\0", dir=2, segs=(), nr=None, ref=0, chn=0, tgt=0, lun=0):
    r = struct.pack("<HBB16sHHHHHBB", rqid, act, len(cdb), cdb.ljust(16, b"\0"), 0, chn, tgt, lun, ref, dir,
                    len(segs) if nr is None else nr)
    for g, o, l in list(segs)[:26]:
        r += struct.pack("<IHH", g, o, l)
    r = r.ljust(252, b"\0")
    assert len(r) == 252
    return r


def page(reqs, prod=None):
    p = bytearray(4096)
    struct.pack_into("<IIII", p, 0, len(reqs) if prod is None else prod, 1, 0, 1)
    for i, r in enumerate(reqs):
        off = 64 + (i % 16) * 252
        p[off:off + 252] = r
    return bytes(p)


def script(prods):
    s = b"".join(struct.pack("<I", v | 0x80000000) for v in prods[:64])
    return s.ljust(256, b"\0")


def desc_page(descs):
    p = bytearray(4096)
    for i, (g, o, l) in enumerate(descs):
        struct.pack_into("<IHH", p, i * 8, g, o, l)
    return bytes(p)


seeds = {
    "direct_read": page([req(0, segs=[(8, 0, 4096)])]),
    "direct_write_unaligned": page([req(1, cdb=b"\x2a" + b"\0" * 7 + b"\x10\0", dir=1,
                                        segs=[(8, 512, 3584), (9, 0, 4096), (10, 0, 512)])]),
    "tur_and_inquiry": page([req(0, cdb=b"\0" * 6, dir=3), req(1, cdb=b"\x12\0\0\0\x60\0", segs=[(8, 0, 96)])]),
    "abort_reset": page([req(2, act=2, ref=0), req(3, act=3, tgt=1)]),
    "full_ring": page([req(i, cdb=b"\0" * 6, dir=3) for i in range(16)]),
    "indirect": page([req(4, segs=[(20, 0, 8 * 100), (21, 16, 8 * 3)], nr=0x82)])
                + script([]) + desc_page([(100 + i, 0, 4096) for i in range(100)])
                + desc_page([(0, 0, 0), (0, 0, 0), (200, 0, 4096), (201, 0, 4096), (202, 4000, 96)]),
    "prod_ahead": page([req(0)], prod=0x7fff0000),
    "prod_moves": page([req(i) for i in range(4)], prod=2) + script([1, 3, 4, 2, 100, 5]),
    "cmd_len_200": page([req(0)[:3] + bytes([200]) + req(0)[4:]]),
    "nr_segments_255": page([req(0, segs=[(8, 0, 4096)], nr=255)]),
    "offset_4095_len_2": page([req(0, segs=[(8, 4095, 2)])]),
}
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)

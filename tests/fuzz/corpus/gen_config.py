#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_config: the configs the tree ships and shows
(config.yaml, the scaffold, every YAML block of README.md, docs/*.md and
lunar.yaml(5), fragments wrapped into a whole file), and broken ones.

fuzz_config puts the handlers these name (h.lua, examples/hello.lua, ...)
next to the file, so the valid ones load."""
import glob
import os
import re

src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config")
os.makedirs(here, exist_ok=True)

LUN = "luns:\n  - name: f\n    transport: sim\n    handler: h.lua\n    size: 1MiB\n"


def whole(block):
    """A YAML block of the docs as a file: fragments get a LUN around them."""
    if block.startswith(" "):
        return LUN + block
    if not re.search(r"^luns:", block, re.M):
        return block + LUN
    return block


seeds = {}
for name in ("config.yaml", "lua/lunar/scaffold/lun.yaml"):
    with open(os.path.join(src, name), "rb") as f:
        text = f.read()
    seeds[os.path.basename(name).replace(".", "_")] = text
    if b"@NAME@" in text:	# as `lunar new` writes it
        seeds["scaffold_made"] = (text.replace(b"@NAME@", b"h").replace(b"@LEVEL@", b"lun")
                                  .replace(b"@PRODUCT@", b"scaffold"))
docs = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
for doc in docs:
    with open(doc) as f:
        blocks = re.findall(r"^```yaml\n(.*?)^```", f.read(), re.S | re.M)
    for i, b in enumerate(blocks):
        seeds["doc_%s_%d" % (os.path.basename(doc).replace(".", "_"), i)] = whole(b).encode()
with open(os.path.join(src, "docs", "man", "lunar.yaml.5")) as f:
    for i, b in enumerate(re.findall(r"^\.EX\n(.*?)^\.EE", f.read(), re.S | re.M)):
        b = b.replace("\\-", "-")
        if re.search(r"^\s*\w+:", b, re.M) and not b.startswith("lunar.yaml:"):
            seeds["man_lunar_yaml_5_%d" % i] = whole(b).encode()

ONE = "    transport: sim\n    handler: h.lua\n    size: 1MiB\n"
broken = {
    "empty": "",
    "doc_marker_only": "---\n",
    "comment_only": "# nothing\n",
    "no_newline_at_end": "luns:\n  - name: a\n" + ONE.rstrip("\n"),
    "bad_unit": "luns:\n  - name: a\n    transport: sim\n    handler: h.lua\n    size: 64MB\n",
    "bad_units_everywhere": "reload_timeout: 3 fortnights\nluns:\n  - name: a\n" + ONE +
                            "    deadline: 20 s\n    lua_memory_limit: 1KiB\n    sim: {ring: 5000, data_area: 1.5MiB}\n",
    "unknown_keys": "lunz: []\nluns:\n  - name: a\n    sise: 1MiB\n    transport: sim\n    handler: h.lua\n"
                    "    size: 1MiB\n    sim: {rign: 1MiB}\n    frobnicate: 1\n",
    "duplicate_name": "luns:\n  - name: a\n" + ONE + "  - name: b\n" + ONE + "  - name: a\n" + ONE,
    "duplicate_key": "luns:\n  - name: a\n    name: b\n" + ONE + "luns: []\n",
    "wrong_types": "version: [1]\nluns:\n  - name: {x: y}\n    transport: [sim]\n    handler: 7\n"
                   "    size: {a: 1}\n    block_size: '512'\n    queue_depth: -1\n    args: 3\n"
                   "    filters: {filter: log}\n    reload: [on-change]\n    sim: 5\n",
    "luns_not_a_list": "luns: {name: a}\n",
    "luns_empty": "luns: []\n",
    "top_level_list": "- luns: []\n",
    "top_level_scalar": "hello\n",
    "missing_everything": "luns:\n  - {}\n  - name: only\n  - 7\n",
    "tabs": "luns:\n\t- name: a\n\t  transport: sim\n",
    "tab_after_key": "luns:\n  - name:\ta\n    transport:\tsim\n    handler: h.lua\n    size: 1MiB\n",
    "anchors_aliases": "defaults: &d\n  transport: sim\n  handler: h.lua\n  size: 1MiB\n"
                       "luns:\n  - name: a\n    <<: *d\n  - &l {name: b, transport: sim, handler: h.lua, size: 1MiB}\n"
                       "  - *l\n",
    "alias_in_args": "luns:\n  - name: a\n" + ONE + "    args: {x: &x [1, 2, 3], y: *x, z: *x}\n",
    "undefined_alias": "luns:\n  - name: *nope\n",
    "recursive_alias": "luns: &a\n  - *a\n",
    "alias_bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" +
                  "".join("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n" %
                          ((chr(98 + i), chr(98 + i)) + (chr(97 + i),) * 10) for i in range(8)) +
                  "luns: *i\n",
    "deep_flow": "luns: " + "[" * 300 + "]" * 300 + "\n",
    "deep_block": "luns:\n- " + "- " * 100 + "x\n",
    "deep_args": "luns:\n  - name: a\n" + ONE + "    args: " + "{a: " * 100 + "1" + "}" * 100 + "\n",
    "huge_numbers": "version: 18446744073709551616\nreload_timeout: 1e308s\nluns:\n  - name: a\n"
                    "    transport: tcmu\n    handler: h.lua\n    size: 99999999999999999999TiB\n"
                    "    block_size: 0x1000\n    queue_depth: 18446744073709551615\n"
                    "    deadline: 9999999999999999h\n    tcmu: {hw_max_sectors: 4294967296, cmd_time_out: 0x}\n",
    "size_overflow": "luns:\n  - name: a\n    transport: sim\n    handler: h.lua\n    size: 17179869184TiB\n",
    "invalid_utf8": b"luns:\n  - name: a\xc3\x28\n    transport: sim\n",
    "invalid_utf8_late": b"luns:\n  - name: a\n" + ONE.encode() + b"    args: {x: \"\xed\xa0\x80\"}\n",
    "control_char": b"luns:\n  - name: a\x01b\n",
    "utf16le_bom": "\ufeffluns:\n  - name: a\n".encode("utf-16-le") + ONE.encode("utf-16-le"),
    "utf16be_bad_surrogate": "\ufeffluns:\n  - name: a\n".encode("utf-16-be") + b"\xdc\x00\x00\n",
    "utf8_bom_crlf": b"\xef\xbb\xbf" + ("luns:\n  - name: a\n" + ONE).replace("\n", "\r\n").encode(),
    "unicode_breaks": "luns:\u2028  - name: a\u0085".encode() + b"\n" + ONE.encode(),
    "nul_in_string": "luns:\n  - name: \"a\\0b\"\n" + ONE,
    "newline_in_message": "luns:\n  - name: \"x\\ny\"\n    transport: \"a\\nb\"\n    handler: h.lua\n"
                          "    size: \"1\\n2\"\n",
    "two_documents": "luns: []\n---\nluns: []\n",
    "garbage_after_document": "luns: []\n...\n]\n",
    "complex_key": "? [a, b]\n: c\nluns: []\n",
    "flow_unterminated": "luns: [{name: a, transport: sim\n",
    "quote_unterminated": "luns:\n  - name: \"a\n",
    "sections_for_other_transports": "luns:\n  - name: a\n" + ONE + "    tcmu: {create: true}\n    xen: {p_dev: a}\n",
    "tcmu_bad_values": "tcmu_netlink: maybe\nluns:\n  - name: a\n    transport: tcmu\n    handler: h.lua\n"
                       "    size: 1MiB\n    tcmu: {create: perhaps, fabric: fc, wwn: naa.xyz, iqn: nope, portal: here}\n",
    "xen_bad_values": "luns:\n  - name: a\n    transport: xen\n    handler: h.lua\n    size: 1MiB\n"
                      "    xen: {p_dev: 'a/b c', backend_type: 'x.y'}\n",
    "filters_bad": "luns:\n  - name: a\n" + ONE + "    filters:\n      - filter: dealy\n"
                   "      - {filter: error, ops: [raed, 7], lba: [9, 1], sense: 3/11, rate: 2, status: 0}\n"
                   "      - {filter: log, level: loud}\n      - {filter: delay, ms: -1, max_ms: .nan}\n"
                   "      - {nofilter: 1}\n      - [log]\n      - {filter: stats, interval: 1e9}\n",
    "handler_missing": "luns:\n  - name: a\n    transport: sim\n    handler: nope.lua\n    size: 1MiB\n"
                       "  - name: b\n    transport: sim\n    handler: /\n    size: 1MiB\n"
                       "  - name: c\n    transport: sim\n    handler: examples\n    size: 1MiB\n",
    "metrics_bad": "metrics: {port: 1}\nluns: []\n",
    "bad_names": "luns:\n  - name: 'a b'\n" + ONE + "    worker: 'w/x'\n  - name: ''\n" + ONE +
                 "  - name: " + "x" * 65 + "\n" + ONE,
    "size_not_multiple": "luns:\n  - name: a\n    transport: sim\n    handler: h.lua\n    size: 1000\n"
                         "    block_size: 4096\n",
}
seeds.update({"bad_" + k: v if isinstance(v, bytes) else v.encode() for k, v in broken.items()})
for name, data in seeds.items():
    with open(os.path.join(here, name + ".yaml"), "wb") as f:
        f.write(data)

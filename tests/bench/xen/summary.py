#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# summary.py: sums up what the Xen benchmark guest measured
# (tests/xen/domu-bench, one line per fio run:
#   DOMU: BENCH <backend> <job> iops=N bw_kib=N lat_us=N p99_us=N err=N).
#
#   summary.py BENCH_TXT JSON_FILE
#
# Rows are jobs, columns the two backends of the same boot -- lunar's
# userspace vscsiif backend and the kernel's xen-scsiback over rd_mcp --
# and the ratio lunar / xen-scsiback.  Prints the table and issue 7's Xen
# targets (PASS/FAIL) and writes JSON_FILE.  Exit status: 0 every target
# met, 1 one missed, 2 rows missing or a fio error.
import json
import sys

# issue 7: lunar >= 0.8x xen-scsiback's IOPS at 4 KiB QD32 (reads and
# writes) and >= 0.9x its MiB/s at 1 MiB sequential
TARGETS = [
    ("randread4k_qd32", "iops", 0.8),
    ("randwrite4k_qd32", "iops", 0.8),
    ("read1m", "mibs", 0.9),
]
JOBS = ["randread4k_qd1", "randwrite4k_qd1", "randread4k_qd32", "randwrite4k_qd32",
        "read1m", "write1m"]


def parse(path):
    rows = {}
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) < 5 or w[:2] != ["DOMU:", "BENCH"] or "=" not in w[4]:
                continue
            kv = dict(x.split("=", 1) for x in w[4:] if "=" in x)
            rows[(w[2], w[3])] = {
                "iops": float(kv["iops"]),
                "mibs": float(kv["bw_kib"]) / 1024.0,
                "lat_us": float(kv["lat_us"]),
                "p99_us": float(kv["p99_us"]),
                "err": int(kv.get("err", "0")),
            }
    return rows


def main():
    if len(sys.argv) != 3:
        print("usage: summary.py BENCH_TXT JSON_FILE", file=sys.stderr)
        return 2
    rows = parse(sys.argv[1])
    status = 0
    out = {"part": "xen", "rows": [], "targets": []}
    print("Xen (QEMU TCG, dom0 1 vCPU, PV domU 1 vCPU): fio in the guest, same boot")
    print("%-18s %12s %12s %8s   %9s %9s   %9s %9s" % (
        "job", "lunar IOPS", "kernel IOPS", "ratio", "lunar MiB/s", "kern MiB/s",
        "lunar p99", "kern p99"))
    for job in JOBS:
        lu, ke = rows.get(("lunar", job)), rows.get(("kernel", job))
        if not lu or not ke or lu["err"] or ke["err"]:
            print("%-18s missing or failed" % job)
            status = 2
            continue
        ratio = lu["iops"] / ke["iops"] if ke["iops"] else 0.0
        print("%-18s %12.0f %12.0f %7.2fx   %9.1f %9.1f   %7.0fus %7.0fus" % (
            job, lu["iops"], ke["iops"], ratio, lu["mibs"], ke["mibs"],
            lu["p99_us"], ke["p99_us"]))
        out["rows"].append({"job": job, "lunar": lu, "kernel": ke, "ratio": ratio})
    print()
    for job, metric, want in TARGETS:
        lu, ke = rows.get(("lunar", job)), rows.get(("kernel", job))
        if not lu or not ke or not ke[metric]:
            got, ok = None, False
        else:
            got = lu[metric] / ke[metric]
            ok = got >= want
        if not ok and status == 0:
            status = 1
        print("%s  xen: lunar %s %s >= %.1fx xen-scsiback (got %s)" % (
            "PASS" if ok else "FAIL", job, "IOPS" if metric == "iops" else "MiB/s", want,
            "%.2fx" % got if got is not None else "no numbers"))
        out["targets"].append({"job": job, "metric": metric, "want": want, "got": got,
                               "pass": ok})
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=1)
    return status


sys.exit(main())

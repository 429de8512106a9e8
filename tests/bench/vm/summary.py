#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# summary.py: sums up what tests/bench/vm/guest.sh measured in the VM.
#
#   summary.py OUT_DIR JSON_FILE
#
# Each row (job x backstore) is the median over the rounds of fio's IOPS,
# MiB/s, mean and p99 latency, with the min-max IOPS spread; the ratios are
# between medians of the same boot: to rd_mcp (the kernel's ramdisk) and
# lunar / tcmu-runner.  Prints the table and the targets (PASS/FAIL) and
# writes JSON_FILE.  Exit status: 0 every target met, 1 one missed, 2 rows
# missing (a fio run failed).
import json
import os
import statistics
import sys

# issue 7: on one vCPU under TCG, for 4 KiB random reads and writes at
# QD1 and QD32, lunar >= 2.0x tcmu-runner's IOPS and >= 0.5x rd_mcp's
TARGET_JOBS = ["randread-4k-qd1", "randread-4k-qd32", "randwrite-4k-qd1", "randwrite-4k-qd32"]
TARGET_RUNNER = 2.0
TARGET_RD = 0.5


def fio_side(path, job):
    with open(path) as f:
        j = json.load(f)["jobs"][0]
    s = j["write"] if "write" in job else j["read"]
    pct = s.get("lat_ns", {}).get("percentile") or s.get("clat_ns", {}).get("percentile") or {}
    return {
        "iops": s["iops"],
        "mibs": s["bw"] / 1024.0,
        "lat_us": s["lat_ns"]["mean"] / 1000.0,
        "p99_us": pct.get("99.000000", 0) / 1000.0,
    }


def lunar_batching(raw, job, rounds):
    """lunar's own counters around its runs: commands per batch."""
    cmds = batches = 0
    for r in range(1, rounds + 1):
        try:
            a = json.load(open(os.path.join(raw, f"{job}.lunar.r{r}.before.stats")))
            b = json.load(open(os.path.join(raw, f"{job}.lunar.r{r}.after.stats")))
            la = next(x for x in a["luns"] if x["name"] == "bench0")
            lb = next(x for x in b["luns"] if x["name"] == "bench0")
        except (OSError, ValueError, KeyError, StopIteration):
            continue
        cmds += lb["commands"] - la["commands"]
        batches += lb["batches"] - la["batches"]
    return cmds / batches if batches else None


def main():
    out, dest = sys.argv[1], sys.argv[2]
    meta = json.load(open(os.path.join(out, "meta.json")))
    raw = os.path.join(out, "raw")
    rounds = meta["rounds"]
    rows, missing = [], 0
    med = {}
    for job in meta["jobs"]:
        for b in meta["backstores"]:
            rs = []
            for r in range(1, rounds + 1):
                p = os.path.join(raw, f"{job}.{b}.r{r}.json")
                try:
                    rs.append(fio_side(p, job))
                except (OSError, ValueError, KeyError, IndexError):
                    pass
            if not rs:
                missing += 1
                rows.append({"job": job, "backstore": b, "runs": 0})
                continue
            row = {"job": job, "backstore": b, "runs": len(rs)}
            for k in ("iops", "mibs", "lat_us", "p99_us"):
                row[k] = statistics.median(x[k] for x in rs)
            row["iops_min"] = min(x["iops"] for x in rs)
            row["iops_max"] = max(x["iops"] for x in rs)
            row["iops_rounds"] = [round(x["iops"], 1) for x in rs]
            if b == "lunar":
                row["cmds_per_batch"] = lunar_batching(raw, job, rounds)
            med[job, b] = row["iops"]
            rows.append(row)

    def ratio(job, a, b):
        x, y = med.get((job, a)), med.get((job, b))
        return x / y if x and y else None

    for row in rows:
        if row["runs"]:
            row["ratio_rd_mcp"] = ratio(row["job"], row["backstore"], "rd_mcp")
    ratios = [{"job": j, "lunar_rd_mcp": ratio(j, "lunar", "rd_mcp"),
               "tcmu_runner_rd_mcp": ratio(j, "tcmu-runner", "rd_mcp"),
               "lunar_tcmu_runner": ratio(j, "lunar", "tcmu-runner")} for j in meta["jobs"]]
    targets = []
    for j in TARGET_JOBS:
        if j not in meta["jobs"]:
            continue
        for what, v, want in ((f"lunar / tcmu-runner IOPS, {j}", ratio(j, "lunar", "tcmu-runner"), TARGET_RUNNER),
                              (f"lunar / rd_mcp IOPS, {j}", ratio(j, "lunar", "rd_mcp"), TARGET_RD)):
            targets.append({"what": what, "value": v, "want": want, "pass": v is not None and v >= want})
    passed = all(t["pass"] for t in targets) and not missing

    print(f"\nlunar-bench --vm: fio through tcm_loop, Linux {meta['kernel']} under QEMU TCG, "
          f"{meta['vcpus']} vCPU; {meta['runtime_s']} s per run, median of {rounds} round(s), "
          f"{meta['lun_mib']} MiB RAM LUNs\n")
    print("%-18s %-12s %10s %17s %9s %10s %10s %8s %9s" % ("job", "backstore", "IOPS", "spread", "MiB/s",
          "mean lat", "p99 lat", "x rd_mcp", "cmd/batch"))
    for row in rows:
        if not row["runs"]:
            print("%-18s %-12s %10s" % (row["job"], row["backstore"], "FAILED"))
            continue
        cpb = row.get("cmds_per_batch")
        print("%-18s %-12s %10.0f %17s %9.1f %8.0fus %8.0fus %7.2fx %9s" % (
            row["job"], row["backstore"], row["iops"], f"{row['iops_min']:.0f}-{row['iops_max']:.0f}",
            row["mibs"], row["lat_us"], row["p99_us"], row["ratio_rd_mcp"] or 0,
            f"{cpb:.2f}" if cpb else ""))
    print("\n%-18s %12s %14s %14s" % ("job", "lunar/rd_mcp", "runner/rd_mcp", "lunar/runner"))
    fmt = lambda v: f"{v:.2f}x" if v is not None else "-"
    for r in ratios:
        print("%-18s %12s %14s %14s" % (r["job"], fmt(r["lunar_rd_mcp"]), fmt(r["tcmu_runner_rd_mcp"]),
                                       fmt(r["lunar_tcmu_runner"])))
    print("\ntargets:")
    for t in targets:
        v = f"{t['value']:.2f}" if t["value"] is not None else "missing"
        print(f"  {'PASS' if t['pass'] else 'FAIL'}  {t['what']} = {v} (target >= {t['want']:.2f})")
    if missing:
        print(f"  FAIL  {missing} row(s) have no measurement (a fio run failed)")

    res = dict(meta)
    res.update({"part": "vm", "rows": rows, "ratios": ratios, "targets": targets, "pass": passed})
    with open(dest + ".tmp", "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    os.replace(dest + ".tmp", dest)
    sys.exit(2 if missing else 0 if passed else 1)


if __name__ == "__main__":
    main()

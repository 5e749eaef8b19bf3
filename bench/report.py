#!/usr/bin/env python3
"""Parses the load benchmark's measurements and prints its table (python3 stdlib only).

    python3 bench/report.py record --server S --case C --rep N --ticks0 T --ticks1 T --clk-tck HZ \\
        --cpu1-ticks0 T --cpu1-ticks1 T --wall0 S --wall1 S --started ISO BLAST_OUTPUT
                                                   one JSON line for one measured run, to stdout
    python3 bench/report.py finish --meta META.json --runs RUNS.jsonl --rss RSS.json --out DIR
                                                   write DIR/results.json and DIR/table.md, print the table

`record` reads dnsblast's (= dnsperf's) "Statistics" block: queries sent, completed and lost,
response codes, average response size, run time (the sending window), queries per second
(completed / run time), average and maximum latency. The server's CPU time over the run is
(utime+stime after - before) / CLK_TCK, from /proc/PID/stat sampled right before dnsblast
starts and right after it exits (all of the server's threads); divided by the answered
(completed) queries it is the CPU per answer. CPU 1's busy ticks (/proc/stat) and the wall
clock over the same interval give the share of CPU 1 the server had, and the share busy with
anything else (other processes, softirq work): on a shared machine the second says how far to
trust the run.

`finish` takes, per server and case, the median of each figure over the repetitions (each
figure on its own) and prints a markdown table: the figures, then the ratio of Meridian's and
Knot's medians to gdnsd's, and of Meridian's to Knot's where Knot runs the case (static and
nxdomain), and of Meridian + dnstap's to Meridian's (what logging every query and response
costs). Below 1.0 is better for every figure except qps.
"""

import argparse
import json
import os
import re
import statistics
import sys

SERVERS = ["meridian", "baseline", "dnstap", "gdnsd", "knot"]
LABEL = {
    "meridian": "Meridian",
    "baseline": "Meridian before",
    "dnstap": "Meridian + dnstap",
    "gdnsd": "gdnsd",
    "knot": "Knot",
}
CASES = ["static", "geo", "geo-noecs", "nxdomain"]


def parse_blast(text):
    def grab(pattern, cast=float, default=None):
        m = re.search(pattern, text)
        if not m:
            if default is not None:
                return default
            raise SystemExit(f"report: no match for {pattern!r} in dnsblast output:\n{text}")
        return cast(m.group(1))

    rcodes = {}
    m = re.search(r"Response codes:\s*(.*)", text)
    if m:
        for name, count in re.findall(r"([A-Z0-9]+) (\d+) \(", m.group(1)):
            rcodes[name] = int(count)
    return {
        "sent": grab(r"Queries sent:\s+(\d+)", int),
        "completed": grab(r"Queries completed:\s+(\d+)", int),
        "lost": grab(r"Queries lost:\s+(\d+)", int),
        "rcodes": rcodes,
        "request_bytes": grab(r"Average packet size:\s+request (\d+)", int),
        "response_bytes": grab(r"Average packet size:.*response (\d+)", int),
        "run_s": grab(r"Run time \(s\):\s+([\d.]+)"),
        "qps": grab(r"Queries per second:\s+([\d.]+)"),
        "latency_avg_s": grab(r"Average Latency \(s\):\s+([\d.]+)"),
        "latency_min_s": grab(r"Average Latency \(s\):\s+[\d.]+ \(min ([\d.]+)"),
        "latency_max_s": grab(r"Average Latency \(s\):.*max ([\d.]+)\)"),
        "latency_sd_s": grab(r"Latency StdDev \(s\):\s+([\d.]+)", default=0.0),
    }


def record(args):
    with open(args.output) as f:
        stats = parse_blast(f.read())
    cpu_s = (args.ticks1 - args.ticks0) / args.clk_tck
    wall_s = args.wall1 - args.wall0
    cpu1_s = (args.cpu1_ticks1 - args.cpu1_ticks0) / args.clk_tck
    stats.update(
        server=args.server,
        case=args.case,
        rep=args.rep,
        started=args.started,
        cpu_ticks=args.ticks1 - args.ticks0,
        cpu_s=cpu_s,
        cpu_us_per_answer=(cpu_s * 1e6 / stats["completed"]) if stats["completed"] else None,
        wall_s=wall_s,
        cpu1_busy_s=cpu1_s,
        server_cpu_pct=100 * cpu_s / wall_s,
        cpu1_other_pct=max(0.0, 100 * (cpu1_s - cpu_s) / wall_s),
        raw=os.path.basename(args.output),
    )
    print(json.dumps(stats, sort_keys=True))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


FIGURES = [
    # key, heading, format
    ("qps", "qps", lambda v: f"{v:,.0f}"),
    ("latency_avg_us", "avg latency (µs)", lambda v: f"{v:,.0f}"),
    ("latency_max_ms", "max latency (ms)", lambda v: f"{v:,.1f}"),
    ("lost", "lost", lambda v: f"{v:,.0f}"),
    ("cpu_us_per_answer", "CPU µs/answer", lambda v: f"{v:.2f}"),
]


def summarize(runs):
    summary = {}
    for server in SERVERS:
        for case in CASES:
            mine = [r for r in runs if r["server"] == server and r["case"] == case]
            if not mine:
                continue
            cpu = [r["cpu_us_per_answer"] for r in mine if r["cpu_us_per_answer"] is not None]
            summary.setdefault(case, {})[server] = {
                "reps": len(mine),
                "qps": median(r["qps"] for r in mine),
                "latency_avg_us": median(r["latency_avg_s"] * 1e6 for r in mine),
                "latency_max_ms": median(r["latency_max_s"] * 1e3 for r in mine),
                "lost": median(r["lost"] for r in mine),
                "cpu_us_per_answer": median(cpu),
                "cpu_us_per_answer_min": min(cpu) if cpu else None,
                "cpu_us_per_answer_max": max(cpu) if cpu else None,
                "response_bytes": median(r["response_bytes"] for r in mine),
                "server_cpu_pct": median(r.get("server_cpu_pct") for r in mine),
                "cpu1_other_pct": median(r.get("cpu1_other_pct") for r in mine),
                "rcodes": sorted({k for r in mine for k in r["rcodes"]}),
            }
    return summary


def ratio(a, b):
    if a is None or b is None:
        return "–"
    if b == 0:
        return "–" if a else "="
    return f"{a / b:.2f}×"


def table(meta, summary, rss):
    out = []
    out.append(
        f"Meridian {meta['meridian_commit']} vs gdnsd {meta['gdnsd_version']} and Knot {meta['knot_version']}, "
        f"{meta['date']}, {meta['cpus']} cores ({meta['cpu_model']}), servers on CPU 1 with one UDP worker, "
        f"dnsblast on CPU 0 (-c {meta['sockets']} -q {meta['outstanding']} -e), "
        f"median of {meta['reps']} × {meta['seconds']:g} s per server and case, interleaved."
    )
    out.append("")
    out.append(
        "| case | server | "
        + " | ".join(h for _, h, _ in FIGURES)
        + " | CPU µs/answer, min–max | answer bytes | CPU 1 other use |"
    )
    out.append("|---|---|" + "---:|" * (len(FIGURES) + 3))
    for case in CASES:
        if case not in summary:
            continue
        rows = summary[case]
        for server in SERVERS:
            if server not in rows:
                continue
            s = rows[server]
            cells = [fmt(s[k]) if s[k] is not None else "–" for k, _, fmt in FIGURES]
            spread = (
                f"{s['cpu_us_per_answer_min']:.2f}–{s['cpu_us_per_answer_max']:.2f}"
                if s["cpu_us_per_answer_min"] is not None
                else "–"
            )
            others = f"{s['cpu1_other_pct']:.0f}%" if s["cpu1_other_pct"] is not None else "–"
            out.append(
                f"| {case} | {LABEL[server]} | "
                + " | ".join(cells)
                + f" | {spread} | {s['response_bytes']:.0f} | {others} |"
            )
        pairs = [
            ("meridian", "gdnsd"),
            ("knot", "gdnsd"),
            ("meridian", "knot"),
            ("meridian", "baseline"),
            ("baseline", "gdnsd"),
            ("dnstap", "meridian"),
        ]
        for a, b in pairs:
            if a in rows and b in rows:
                cells = [ratio(rows[a][k], rows[b][k]) for k, _, _ in FIGURES]
                out.append(
                    f"| {case} | {LABEL[a]} ÷ {LABEL[b]} | " + " | ".join(cells) + " | | "
                    f"{ratio(rows[a]['response_bytes'], rows[b]['response_bytes'])} | |"
                )
    out.append("")
    out.append("| server | RSS after the runs (MiB) | anonymous | file-backed | peak (VmHWM) | RSS ÷ gdnsd | threads |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    g = rss.get("gdnsd", {}).get("VmRSS")
    for server in SERVERS:
        if server not in rss:
            continue
        r = rss[server]
        mib = lambda k: f"{r[k] / 1024:.1f}" if r.get(k) is not None else "–"
        out.append(
            f"| {LABEL[server]} | {mib('VmRSS')} | {mib('RssAnon')} | {mib('RssFile')} | {mib('VmHWM')} | "
            f"{ratio(r.get('VmRSS'), g)} | {r.get('Threads', '–')} |"
        )
    out.append("")
    out.append(
        "RSS: VmRSS of the server process after the runs (file-backed: mapped files, e.g. the binary and "
        "the geo database; peak: VmHWM); threads: all of the process's threads, all on CPU 1. "
        "CPU µs/answer: user+sys time of the server process (all threads, /proc/PID/stat) over the run "
        "divided by the answers received; lower is better, and it ranks servers that all outrun the load "
        "generator. Ratios are of medians; below 1.00× is better except for qps. Knot serves the static zone "
        "only (no geo rows). Lost: queries unanswered within 1 s. CPU 1 other use: the share of the server's "
        "core busy but not charged to the server during its runs (median): other processes (the machine is "
        "shared) and kernel softirq work such as the loopback delivery of the server's answers."
    )
    return "\n".join(out) + "\n"


def finish(args):
    with open(args.meta) as f:
        meta = json.load(f)
    with open(args.runs) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    with open(args.rss) as f:
        rss = json.load(f)
    summary = summarize(runs)
    text = table(meta, summary, rss)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "process_status": rss, "runs": runs}, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    r.add_argument("--server", required=True)
    r.add_argument("--case", required=True)
    r.add_argument("--rep", type=int, required=True)
    r.add_argument("--ticks0", type=int, required=True)
    r.add_argument("--ticks1", type=int, required=True)
    r.add_argument("--clk-tck", type=int, required=True)
    r.add_argument("--cpu1-ticks0", type=int, required=True)
    r.add_argument("--cpu1-ticks1", type=int, required=True)
    r.add_argument("--wall0", type=float, required=True)
    r.add_argument("--wall1", type=float, required=True)
    r.add_argument("--started", required=True)
    r.add_argument("output")
    f = sub.add_parser("finish")
    f.add_argument("--meta", required=True)
    f.add_argument("--runs", required=True)
    f.add_argument("--rss", required=True)
    f.add_argument("--out", required=True)
    args = ap.parse_args()
    {"record": record, "finish": finish}[args.command](args)


if __name__ == "__main__":
    main()

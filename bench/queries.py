#!/usr/bin/env python3
"""Query files for the load benchmark (dnsblast's format), and free loopback ports.

    python3 bench/queries.py files SAMPLE DIR   write DIR/{static,geo,geo-noecs,nxdomain,warmup-*}.txt
    python3 bench/queries.py ports N            print N ports free on 127.0.0.1 for UDP and TCP

SAMPLE is the subnet list reshape_mmdb writes (`A.B.C.0/24 CONTINENT COUNTRY` a line). Each
file is read round-robin by dnsblast (at most 16,384 lines):
- static: `static.bench.test A`, the A RRset of 3 records, one line;
- geo: `geo.bench.test A A.B.C.0/24`, one line per sample subnet (ECS);
- geo-noecs: `geo.bench.test A`, no ECS, so the source 127.0.0.1 decides (not in the database:
  both servers fall back to their first region, us-east);
- nxdomain: `nope-N.bench.test A`, 16,384 distinct names under the zone;
- warmup-SERVER: the cases that server runs, interleaved, for its warm-up.
"""

import os
import random
import socket
import sys

ZONE = "bench.test."
NXDOMAIN_NAMES = 16384


def files(sample_path, out):
    subnets = []
    with open(sample_path) as f:
        for line in f:
            parts = line.split()
            if parts:
                subnets.append(parts[0])
    if not subnets:
        sys.exit(f"queries.py: no subnets in {sample_path}")
    cases = {
        "static": [f"static.{ZONE} A"],
        "geo": [f"geo.{ZONE} A {s}" for s in subnets],
        "geo-noecs": [f"geo.{ZONE} A"],
        "nxdomain": [f"nope-{i}.{ZONE} A" for i in range(NXDOMAIN_NAMES)],
    }
    os.makedirs(out, exist_ok=True)
    for name, lines in cases.items():
        with open(os.path.join(out, f"{name}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    # Warm-ups: every case the server runs, one line of each in turn.
    warmups = {"meridian": list(cases), "baseline": list(cases), "dnstap": list(cases), "gdnsd": list(cases), "knot": ["static", "nxdomain"]}
    for server, names in warmups.items():
        mixed = []
        for i in range(4096):
            for n in names:
                mixed.append(cases[n][i % len(cases[n])])
        with open(os.path.join(out, f"warmup-{server}.txt"), "w") as f:
            f.write("\n".join(mixed[:16384]) + "\n")


def ports(n):
    rng = random.SystemRandom()
    found = []
    while len(found) < n:
        port = rng.randrange(20000, 60000)
        if port in found:
            continue
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        found.append(port)
    print(" ".join(map(str, found)))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "files":
        files(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "ports":
        ports(int(sys.argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

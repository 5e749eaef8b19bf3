#!/usr/bin/env python3
"""What heartbeats cost: 1,000 leased endpoints renewing every 10 s, against DNS answers.

    python3 bench/heartbeats.py [--binary PATH] [--endpoints 1000] [--every 10]
                                [--seconds 30] [--qps 20000]

Starts `meridian serve` (a release build: `cargo build --release`; default
$CARGO_TARGET_DIR/release/meridian, else target/release/meridian) on loopback with one
pool, registers ENDPOINTS endpoints with a lease (30 s, or longer than two phases) in one bulk request, then runs three
phases of SECONDS each, in one process of the server:

  heartbeats   every endpoint heart-beats every EVERY seconds (ENDPOINTS/EVERY a second,
               spread evenly, over 4 keep-alive connections); no DNS load
  dns          dnsperf at QPS queries a second against the pool's name; no heartbeats
  dns+hb       both at once

For each phase it reads the server's CPU time (utime+stime of /proc/PID/stat) before and after
and prints: the server's CPU as a percentage of one core, the answers dnsperf got, and the
server's CPU per answer in microseconds. Goal (issue 23): heartbeats alone under 5 % of one
core, and dns+hb per answer no worse than dns per answer beyond the run-to-run noise (run it
twice to see that noise). Every heartbeat must answer 200: one that does not stops the run.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOKEN = "bench-heartbeats-token-0123456789"
ZONE = """$ORIGIN fleet.test.
$TTL 300
@ SOA ns host 1 2 3 4 60
@ NS ns
ns A 192.0.2.53
"""


def binary(given):
    if given:
        return given
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    path = os.path.join(target, "release", "meridian")
    if not os.path.exists(path):
        sys.exit(f"heartbeats.py: no {path}: run cargo build --release, or give --binary")
    return path


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def address(i):
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


class Api:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.conn = None

    def send(self, method, path, body=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                data = None
                if body is not None:
                    data = json.dumps(body).encode()
                    headers["Content-Type"] = "application/json"
                self.conn.request(method, path, body=data, headers=headers)
                reply = self.conn.getresponse()
                return reply.status, reply.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def start(meridian, work):
    with open(os.path.join(work, "fleet.test.zone"), "w") as f:
        f.write(ZONE)
    with open(os.path.join(work, "meridian.toml"), "w") as f:
        f.write(
            'state_dir = "state"\n[server]\nlisten = ["127.0.0.1:0"]\nworkers = 1\n'
            '[[zone]]\nfile = "fleet.test.zone"\n'
            f'[api]\nlisten = "127.0.0.1:0"\ntoken = "{TOKEN}"\nmax_body_bytes = 1048576\n'
            '[[region]]\nname = "fleet"\nendpoints = [ { address = "192.0.2.1" } ]\n'
            '[[pool]]\nname = "www.fleet.test."\npolicy = "weighted"\nregions = ["fleet"]\n'
        )
    os.chmod(work, 0o755)
    server = subprocess.Popen(
        [meridian, "serve", "--config", "meridian.toml"],
        cwd=work,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUST_LOG": "warn,meridian=info"},
    )
    dns = api = None
    deadline = time.time() + 30
    while (dns is None or api is None) and time.time() < deadline:
        line = server.stderr.readline()
        if not line:
            break
        found = re.search(r"addr=(\S+)", line)
        if found and "admin API" in line:
            api = found.group(1)
        elif found:
            dns = dns or found.group(1)
    if dns is None or api is None:
        server.kill()
        sys.exit("heartbeats.py: the server did not log its listeners")
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    return server, dns, api


def heartbeats(api_addr, endpoints, every, stop, errors, sent):
    """Each endpoint renews every `every` seconds, spread evenly over 4 connections."""
    lanes = 4

    def lane(k):
        api = Api(api_addr)
        mine = list(range(k, endpoints, lanes))
        gap = every / max(len(mine), 1)
        start = time.monotonic() + k * gap / lanes
        n = 0
        while not stop.is_set():
            due = start + n * gap
            wait = due - time.monotonic()
            if wait > 0 and stop.wait(wait):
                return
            i = mine[n % len(mine)]
            status, body = api.send("POST", f"/api/v1/lb/regions/fleet/endpoints/{address(i)}/heartbeat")
            if status != 200:
                errors.append(f"{address(i)}: {status} {body[:200]!r}")
                stop.set()
                return
            sent[k] += 1
            n += 1

    threads = [threading.Thread(target=lane, args=(k,), daemon=True) for k in range(lanes)]
    for t in threads:
        t.start()
    return threads


def dnsperf(dns_addr, seconds, qps, work):
    host, port = dns_addr.rsplit(":", 1)
    queries = os.path.join(work, "queries.txt")
    with open(queries, "w") as f:
        f.write("www.fleet.test. A\n")
    out = subprocess.run(
        ["dnsperf", "-s", host, "-p", port, "-d", queries, "-l", str(seconds), "-Q", str(qps), "-c", "4", "-q", "200"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    done = re.search(r"Queries completed:\s+(\d+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    if lost and int(lost.group(1)):
        print(f"  dnsperf: {lost.group(1)} queries lost", flush=True)
    return int(done.group(1)) if done else 0


def phase(name, pid, seconds, run):
    hz = os.sysconf("SC_CLK_TCK")
    before, t0 = cpu_ticks(pid), time.monotonic()
    answers = run()
    after, t1 = cpu_ticks(pid), time.monotonic()
    cpu = (after - before) / hz
    wall = t1 - t0
    line = f"{name:<11} wall {wall:6.1f} s  server CPU {cpu:7.3f} s = {100 * cpu / wall:5.2f} % of one core"
    if answers:
        line += f"  answers {answers:9d}  {1e6 * cpu / answers:6.2f} us CPU/answer"
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary")
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--every", type=float, default=10.0)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--qps", type=int, default=20000)
    args = parser.parse_args()
    if shutil.which("dnsperf") is None:
        sys.exit("heartbeats.py: dnsperf is not installed")
    meridian = binary(args.binary)
    work = tempfile.mkdtemp(prefix="meridian-heartbeats-")
    server, dns_addr, api_addr = start(meridian, work)
    try:
        api = Api(api_addr)
        # Long enough that none runs out in the dns phase, which sends no heartbeats.
        ttl = max(30, 2 * args.seconds + 10)
        items = [{"address": address(i), "ttl": f"{ttl}s"} for i in range(args.endpoints)]
        status, body = api.send("POST", "/api/v1/lb/regions/fleet/endpoints", {"endpoints": items})
        if status != 200:
            sys.exit(f"heartbeats.py: bulk registration answered {status}: {body[:300]!r}")
        print(
            f"meridian {meridian}, pid {server.pid}: {args.endpoints} endpoints leased for {ttl} s, "
            f"heart-beating every {args.every:g} s ({args.endpoints / args.every:g}/s); "
            f"dnsperf at {args.qps} q/s; {args.seconds} s a phase",
            flush=True,
        )
        errors, sent = [], [0] * 4

        def with_heartbeats(run):
            stop = threading.Event()
            threads = heartbeats(api_addr, args.endpoints, args.every, stop, errors, sent)
            try:
                return run()
            finally:
                stop.set()
                for t in threads:
                    t.join()

        def idle():
            time.sleep(args.seconds)
            return 0

        phase("heartbeats", server.pid, args.seconds, lambda: with_heartbeats(idle))
        phase("dns", server.pid, args.seconds, lambda: dnsperf(dns_addr, args.seconds, args.qps, work))
        phase("dns+hb", server.pid, args.seconds, lambda: with_heartbeats(lambda: dnsperf(dns_addr, args.seconds, args.qps, work)))
        if errors:
            sys.exit(f"heartbeats.py: a heartbeat failed: {errors[0]}")
        print(f"heartbeats sent: {sum(sent)}; all answered 200", flush=True)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

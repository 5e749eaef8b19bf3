#!/usr/bin/env python3
"""The soak test: the release binary under load while everything that can change does.

    python3 scripts/soak.py --binary target/release/meridian [--seconds 600] [--out DIR]

(scripts/soak installs dnsperf and dig, builds the binary and runs this.)

For SECONDS, Meridian serves a zone and a geo pool of three regions with HTTP health checks
(1 s, rise 1, fall 1) while:
  - dnsperf sends UDP queries (2,000/s, 10 clients) and TCP queries (500/s, 10 connections),
    a mix of the geo pool (A, AAAA), static records, NXDOMAIN and the apex SOA;
  - every 5 s one endpoint's health target flips between 200 and 503;
  - every 30 s the zone file is rewritten (new serial, a TXT "generation") and SIGHUP sent;
  - every 2 s an API change: an endpoint's weight (and every 10th change a drain or undrain),
    each recorded when acknowledged (2xx);
  - every 5 s the server's RSS is read from /proc.
Then the checks, each printed with its figures:
  1. no panic in the server's log;
  2. UDP queries lost under 0.01 %, and no TCP query lost;
  3. answers right for the final state: the last reload's TXT, every acknowledged weight and
     drain, the geo pool steering by continent once every target is up again;
  4. RSS flat after warm-up (the first fifth of the run): the last third's median within
     10 % (plus 2 MiB) of the median just after warm-up;
  5. after kill -9 and a restart on the same files, every acknowledged API change is there.
Exit status 0 when every check passes. Only loopback is used: 127.0.0.1 for the server and
127.30.x.y for the health targets.
"""

import argparse
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

TOKEN = "soak-token-0123456789"
REGIONS = {
    "us": (["NA", "SA"], ["127.30.1.1", "127.30.1.2"]),
    "eu": (["EU", "AF"], ["127.30.2.1", "127.30.2.2"]),
    "ap": (["AS", "OC"], ["127.30.3.1", "127.30.3.2"]),
}
# Client subnets of each continent in the shipped database (as README shows with dig).
SUBNETS = {"eu": "81.2.69.0/24", "us": "8.8.8.0/24", "ap": "1.1.1.0/24"}


def log(*args):
    print(f"[soak {time.strftime('%H:%M:%S')}]", *args, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- health targets ------------------------------------------------------------------------
class Health:
    """HTTP health targets on each endpoint address; each answers 200 or 503 as told."""

    def __init__(self, port):
        self.up = {addr: True for _, addrs in REGIONS.values() for addr in addrs}
        self.servers = []
        health = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ok = health.up.get(self.server.server_address[0], False)
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        for addr in self.up:
            server = socketserver.ThreadingTCPServer((addr, port), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def stop(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()


# --- the server ----------------------------------------------------------------------------
def zone_text(generation):
    return f"""$ORIGIN soak.test.
$TTL 300
@ IN SOA ns1 hostmaster {1000 + generation} 7200 3600 1209600 300
  IN NS ns1
  IN TXT "generation={generation}"
ns1 IN A 192.0.2.53
www IN A 192.0.2.80
www IN AAAA 2001:db8::80
"""


def config_text(dns_port, api_port, health_port, database):
    check = f'{{ type = "http", port = {health_port}, path = "/", interval = "1s", timeout = "1s", rise = 1, fall = 1 }}'
    regions = ""
    for name, (continents, addrs) in REGIONS.items():
        endpoints = ", ".join(f'{{ address = "{a}" }}' for a in addrs)
        regions += (f'[[region]]\nname = "{name}"\ncontinents = {json.dumps(continents)}\n'
                    f"check = {check}\nendpoints = [ {endpoints} ]\n\n")
    return f"""state_dir = "state"
[server]
listen = ["127.0.0.1:{dns_port}"]
workers = 2
[[zone]]
file = "soak.test.zone"
[api]
listen = "127.0.0.1:{api_port}"
token = "{TOKEN}"
[geoip]
database = "{database}"
{regions}[[pool]]
name = "geo.soak.test."
policy = "geo"
regions = ["us", "eu", "ap"]
ttl = 30
max_answers = 4
"""


class Server:
    def __init__(self, binary, work, dns_port, api_port):
        self.binary, self.work, self.dns_port, self.api_port = binary, work, dns_port, api_port
        self.log_path = os.path.join(work, "meridian.log")
        self.proc = None

    def start(self):
        logfile = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", "meridian.toml"], cwd=self.work,
                                     stdout=logfile, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": "info"})
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"meridian exited at start: see {self.log_path}")
            try:
                if api("GET", self.api_port, "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        sys.exit("meridian did not start within 30 s")

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def api(method, port, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)  # no answer at all: counted as refused, never as acknowledged


def dig(port, *args):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+norec", "+short", "+time=2", "+tries=2", *args],
                         capture_output=True, text=True, timeout=20)
    return out.stdout.split()


# --- load ------------------------------------------------------------------------------------
def dnsperf(port, queries, seconds, tcp):
    mode = ["-m", "tcp", "-Q", "500", "-c", "10"] if tcp else ["-Q", "2000", "-c", "10"]
    return subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", queries, "-l", str(seconds),
                             "-t", "5", *mode], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def dnsperf_figures(output):
    figures = {}
    for key, pattern in {"sent": r"Queries sent:\s+(\d+)", "completed": r"Queries completed:\s+(\d+)",
                         "lost": r"Queries lost:\s+(\d+)", "qps": r"Queries per second:\s+([\d.]+)"}.items():
        match = re.search(pattern, output)
        figures[key] = float(match.group(1)) if match else None
    return figures


# --- the run ---------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = args.out or tempfile.mkdtemp(prefix="meridian-soak.")
    os.makedirs(work, exist_ok=True)
    # Started as root, Meridian reads its zones, database and state as server.user (nobody).
    os.chmod(work, 0o755)
    dns_port, api_port, health_port = free_port(), free_port(), free_port()
    health = Health(health_port)
    generation = 0
    with open(os.path.join(work, "soak.test.zone"), "w") as f:
        f.write(zone_text(generation))
    with open(os.path.join(work, "meridian.toml"), "w") as f:
        f.write(config_text(dns_port, api_port, health_port, os.path.join(repo, "geoip/dbip-country.mmdb")))
    with open(os.path.join(work, "queries.txt"), "w") as f:
        f.write("geo.soak.test A\ngeo.soak.test AAAA\nwww.soak.test A\nsoak.test SOA\nnope.soak.test A\n"
                "soak.test TXT\nwww.soak.test AAAA\n")
    server = Server(binary, work, dns_port, api_port)
    server.start()
    log(f"serving on 127.0.0.1:{dns_port} (API {api_port}), work directory {work}, {args.seconds} s")

    udp = dnsperf(dns_port, os.path.join(work, "queries.txt"), args.seconds, tcp=False)
    tcp = dnsperf(dns_port, os.path.join(work, "queries.txt"), args.seconds, tcp=True)
    endpoints = [(region, addr) for region, (_, addrs) in REGIONS.items() for addr in addrs]
    weights, drained = {}, {}
    changes = {"acknowledged": 0, "refused": 0}
    flips = reloads = 0
    rss = []
    started = time.time()
    tick = 0
    while time.time() - started < args.seconds:
        time.sleep(1)
        tick += 1
        if tick % 5 == 0:
            region, addr = endpoints[(tick // 5) % len(endpoints)]
            health.up[addr] = not health.up[addr]
            flips += 1
            rss.append((time.time() - started, server.rss_kib()))
        if tick % 30 == 0:
            generation += 1
            with open(os.path.join(work, "soak.test.zone"), "w") as f:
                f.write(zone_text(generation))
            server.proc.send_signal(signal.SIGHUP)
            reloads += 1
        if tick % 2 == 0:
            region, addr = endpoints[(tick // 2) % len(endpoints)]
            if (tick // 2) % 10 == 0:
                action = "undrain" if drained.get(addr) else "drain"
                status, _ = api("POST", api_port, f"/api/v1/lb/regions/{region}/endpoints/{addr}/{action}")
                if 200 <= status < 300:
                    drained[addr] = action == "drain"
            else:
                weight = 1 + (tick * 7) % 100
                status, _ = api("PATCH", api_port, f"/api/v1/lb/regions/{region}/endpoints/{addr}", {"weight": weight})
                if 200 <= status < 300:
                    weights[addr] = weight
            changes["acknowledged" if 200 <= status < 300 else "refused"] += 1
    udp_out, tcp_out = udp.communicate(timeout=60)[0], tcp.communicate(timeout=60)[0]
    udp_figures, tcp_figures = dnsperf_figures(udp_out), dnsperf_figures(tcp_out)
    with open(os.path.join(work, "dnsperf-udp.txt"), "w") as f:
        f.write(udp_out)
    with open(os.path.join(work, "dnsperf-tcp.txt"), "w") as f:
        f.write(tcp_out)

    results = {"seconds": args.seconds, "udp": udp_figures, "tcp": tcp_figures, "flips": flips, "reloads": reloads,
               "api_changes": changes, "rss_kib": rss}
    checks = []

    def check(name, ok, detail):
        checks.append((name, ok, detail))
        log(("PASS " if ok else "FAIL ") + name + ": " + detail)

    # 1. panics
    with open(server.log_path, errors="replace") as f:
        panics = [line for line in f if "panicked" in line]
    check("no panic in the log", not panics, f"{len(panics)} panic line(s)")
    # 2. loss
    def load_check(name, figures, allowed):
        if None in (figures["sent"], figures["lost"], figures["qps"]) or not figures["sent"]:
            check(name, False, "dnsperf's figures could not be read (see dnsperf-*.txt)")
            return
        loss = figures["lost"] / figures["sent"]
        check(name, loss <= allowed, f"{figures['sent']:.0f} sent, {figures['lost']:.0f} lost ({loss:.4%}), "
                                     f"{figures['qps']:.0f} qps")

    load_check("UDP loss under 0.01 %", udp_figures, 0.0001 - 1e-12)
    load_check("no TCP query lost", tcp_figures, 0)
    # 3. the final state: every target up again, then wait (bounded) for the API to say so
    for addr in health.up:
        health.up[addr] = True
    deadline = time.time() + 30
    while time.time() < deadline:
        status, regions = api("GET", api_port, "/api/v1/lb/regions")
        if status == 200 and all(e["health"] == "up" for r in regions for e in r["endpoints"]):
            break
        time.sleep(0.5)
    txt = dig(dns_port, "soak.test", "TXT")
    check("the last reload is served", txt == [f'"generation={generation}"'], f"TXT {txt}, {reloads} reloads")
    results["final_weights"], results["final_drained"] = weights, drained

    def api_state(port):
        status, body = api("GET", port, "/api/v1/lb/regions")
        found = {}
        for region in body if status == 200 else []:
            for e in region["endpoints"]:
                found[e["address"]] = (e["weight"], e["manual"] == "drain")
        return found

    def changes_present(found):
        missing = [a for a, w in weights.items() if found.get(a, (None,))[0] != w]
        missing += [a for a, d in drained.items() if found.get(a, (None, None))[1] != d]
        return missing

    missing = changes_present(api_state(api_port))
    # Every change must have been acknowledged (a refusal, e.g. a state directory that cannot be
    # written, is a failure), and there must be some, or the checks below prove nothing.
    check("every API change acknowledged", changes["refused"] == 0 and changes["acknowledged"] > 0,
          f"{changes['acknowledged']} acknowledged, {changes['refused']} refused")
    check("acknowledged API changes in effect", not missing, f"wrong: {missing}")
    steering = {}
    for region, subnet in SUBNETS.items():
        answers = dig(dns_port, f"+subnet={subnet}", "geo.soak.test", "A")
        expected = {a for a in REGIONS[region][1] if not drained.get(a)}
        steering[region] = answers
        check(f"geo answer for {subnet} from {region}", bool(answers) and set(answers) <= expected,
              f"{answers} (serving {sorted(expected)})")
    # 4. RSS after warm-up
    warm = [kib for t, kib in rss if args.seconds / 5 <= t < args.seconds * 2 / 5]
    late = [kib for t, kib in rss if t >= args.seconds * 2 / 3]
    if warm and late:
        first, last = statistics.median(warm), statistics.median(late)
        check("RSS flat after warm-up", last <= first * 1.10 + 2048,
              f"{first / 1024:.1f} MiB after warm-up, {last / 1024:.1f} MiB at the end, peak {max(k for _, k in rss) / 1024:.1f} MiB")
        results["rss_mib"] = {"after_warmup": first / 1024, "end": last / 1024}
    else:
        check("RSS flat after warm-up", False, "too few samples (run longer)")
    # 5. kill -9, restart, every acknowledged change still there
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.start()
    missing = changes_present(api_state(api_port))
    check("acknowledged API changes survive kill -9", not missing, f"wrong after restart: {missing}")
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=30)
    health.stop()

    results["checks"] = [{"name": n, "ok": bool(ok), "detail": d} for n, ok, d in checks]
    with open(os.path.join(work, "soak.json"), "w") as f:
        json.dump(results, f, indent=2)
    failed = [n for n, ok, _ in checks if not ok]
    log(f"{len(checks) - len(failed)} of {len(checks)} checks passed; results in {work}/soak.json")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Failover timing: how long a dead endpoint stays in Meridian's answers, and how long a
recovered one takes to come back.

It builds the release binary, serves three health targets itself (python's http.server on
127.0.0.1), and starts Meridian with one pool of three endpoints, each checked over HTTP with
interval 1s, fall 3, rise 2. Then, REPEATS times: it kills one target and polls the pool
every 50 ms until the dead endpoint's address has left the answers ("out"), restarts the
target and polls until the address is back ("back"). It prints min / median / max of both.

Goal (issue 5): out within interval x fall + 1 s = 4 s, back within interval x rise + 1 s
= 3 s. Run from the repository root:  python3 scripts/failover.py [REPEATS]
Only loopback traffic; every loop is bounded in time.
"""
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
DNS_PORT = 15353
ADDRESSES = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
POLL = 0.05
LIMIT = 20.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(name="www.lb.test."):
    """Sends one A query over UDP and returns the A addresses of the answer."""
    qid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\x00" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        s.sendto(packet, ("127.0.0.1", DNS_PORT))
        data, _ = s.recvfrom(4096)
    answers = struct.unpack(">H", data[6:8])[0]
    at = 12
    while data[at] != 0:  # skip the question name
        at += 1 + data[at]
    at += 5
    found = []
    for _ in range(answers):
        while data[at] != 0 and data[at] < 0xC0:  # the owner name: labels, then 0 or a pointer
            at += 1 + data[at]
        at += 1 if data[at] == 0 else 2
        rtype, _, _, length = struct.unpack(">HHIH", data[at:at + 10])
        at += 10
        if rtype == 1:
            found.append(socket.inet_ntoa(data[at:at + length]))
        at += length
    return found


def wait(condition, what):
    start = time.monotonic()
    while time.monotonic() - start < LIMIT:
        try:
            if condition(query()):
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(POLL)
    raise SystemExit(f"no {what} within {LIMIT} s")


def target(port, root):
    return subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", root],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet"], check=True)
    work = tempfile.mkdtemp(prefix="meridian-failover-")
    # Started as root, Meridian reads its zones as server.user (nobody): let it in.
    os.chmod(work, 0o755)
    open(os.path.join(work, "health"), "w").write("ok\n")
    open(os.path.join(work, "lb.test.zone"), "w").write(
        "$ORIGIN lb.test.\n$TTL 300\n@ SOA ns host 1 2 3 4 60\n@ NS ns\nns A 192.0.2.53\n")
    ports = [free_port() for _ in ADDRESSES]
    endpoints = ", ".join(
        f'{{ address = "{a}", check = {{ type = "http", address = "127.0.0.1", port = {p}, path = "/health", '
        f'interval = "1s", timeout = "500ms", fall = 3, rise = 2 }} }}' for a, p in zip(ADDRESSES, ports))
    open(os.path.join(work, "meridian.toml"), "w").write(
        f'[server]\nlisten = ["127.0.0.1:{DNS_PORT}"]\n[[zone]]\nfile = "lb.test.zone"\n'
        f'[[region]]\nname = "r"\nendpoints = [ {endpoints} ]\n'
        f'[[pool]]\nname = "www.lb.test."\npolicy = "priority"\nregions = ["r"]\nmax_answers = 3\n')
    targets = [target(p, work) for p in ports]
    server = subprocess.Popen(["target/release/meridian", "serve", "--config", os.path.join(work, "meridian.toml")],
                              stderr=subprocess.DEVNULL)
    outs, backs = [], []
    try:
        wait(lambda a: sorted(a) == ADDRESSES, "answer with all three endpoints")
        for i in range(REPEATS):
            victim = i % len(ADDRESSES)
            targets[victim].kill()
            targets[victim].wait()
            outs.append(wait(lambda a: ADDRESSES[victim] not in a, "failover"))
            targets[victim] = target(ports[victim], work)
            backs.append(wait(lambda a: ADDRESSES[victim] in a, "recovery"))
            print(f"run {i + 1}: out after {outs[-1]:.2f} s, back after {backs[-1]:.2f} s", flush=True)
    finally:
        server.terminate()
        for t in targets:
            t.kill()
    for what, values, goal in [("out", outs, 4.0), ("back", backs, 3.0)]:
        print(f"{what}: min {min(values):.2f} s, median {statistics.median(values):.2f} s, "
              f"max {max(values):.2f} s (goal <= {goal:.0f} s)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks, before any load, that a server gives the benchmark's answers to every case.

    python3 bench/check.py --server NAME --port PORT --cases static,geo,... --sample SAMPLE \\
        --region us-east=ADDR,ADDR --region eu-west=... --region ap-south=...

Queries go to 127.0.0.1:PORT over UDP with EDNS, one at a time, as dnsblast sends them:
- static: NOERROR, AA, exactly the A RRset 192.0.2.1-3 of static.bench.test.;
- nxdomain: NXDOMAIN, AA, the zone's SOA in the authority section (three distinct names);
- geo: for EVERY subnet of SAMPLE (`A.B.C.0/24 CONTINENT COUNTRY`, as reshape_mmdb writes it),
  geo.bench.test. A with that subnet as ECS must answer exactly the addresses of the region the
  continent maps to (NA, SA: us-east; EU, AF: eu-west; AS, OC: ap-south; anything else: the
  first region, us-east), with TTL 30 (30 means every endpoint is up: Meridian answers with
  its failover TTL while one is not) and an ECS option echoed;
- geo-noecs: the same name without ECS from 127.0.0.1 (in no database network): us-east.
Prints one line per case (and the response sizes); exits 1 on the first case that fails,
showing the query and the answer.
"""

import argparse
import ipaddress
import random
import socket
import struct
import sys

ZONE = "bench.test."
STATIC = {"192.0.2.1", "192.0.2.2", "192.0.2.3"}
CONTINENT_REGION = {"NA": "us-east", "SA": "us-east", "EU": "eu-west", "AF": "eu-west", "AS": "ap-south", "OC": "ap-south"}
FALLBACK_REGION = "us-east"
TTL = 30
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def encode(qid, name, qtype=1, ecs=None):
    out = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1)  # RD, like dnsblast; one OPT
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    out += b"\0" + struct.pack("!HH", qtype, 1)
    option = b""
    if ecs:
        net = ipaddress.ip_network(ecs, strict=False)
        octets = (net.prefixlen + 7) // 8
        body = struct.pack("!HBB", 1 if net.version == 4 else 2, net.prefixlen, 0) + net.network_address.packed[:octets]
        option = struct.pack("!HH", 8, len(body)) + body
    out += b"\0" + struct.pack("!HHIH", 41, 1232, 0, len(option)) + option
    return out


def skip_name(buf, off):
    while True:
        n = buf[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def decode(buf):
    qid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", buf)
    off = 12
    for _ in range(qd):
        off = skip_name(buf, off) + 4
    sections = []
    for count in (an, ns, ar):
        records = []
        for _ in range(count):
            off = skip_name(buf, off)
            rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", buf, off)
            off += 10
            records.append((rtype, ttl, buf[off : off + rdlen]))
            off += rdlen
        sections.append(records)
    answer, authority, additional = sections
    ecs_scope = None
    for rtype, _, rdata in additional:
        if rtype != 41:
            continue
        o = 0
        while o + 4 <= len(rdata):
            code, length = struct.unpack_from("!HH", rdata, o)
            if code == 8:
                ecs_scope = rdata[o + 7]
            o += 4 + length
    return {
        "id": qid,
        "rcode": RCODES.get(flags & 15, str(flags & 15)),
        "aa": bool(flags & 0x0400),
        "a": sorted(socket.inet_ntoa(r) for t, _, r in answer if t == 1),
        "ttls": sorted({ttl for t, ttl, _ in answer if t == 1}),
        "answer_types": [t for t, _, _ in answer],
        "authority_types": [t for t, _, _ in authority],
        "ecs_scope": ecs_scope,
        "size": len(buf),
    }


class Client:
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(1.0)
        self.qid = random.Random(7).randrange(65536)

    def ask(self, name, ecs=None):
        for _ in range(3):
            self.qid = (self.qid + 1) & 0xFFFF
            self.sock.send(encode(self.qid, name, ecs=ecs))
            try:
                while True:
                    reply = decode(self.sock.recv(4096))
                    if reply["id"] == self.qid:
                        return reply
            except socket.timeout:
                continue
        raise SystemExit(f"check: no answer to {name} A (ECS {ecs}) after 3 tries")


def fail(server, case, what, query, reply):
    sys.exit(f"check {server} {case}: FAILED: {what}\n  query: {query}\n  reply: {reply}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--region", action="append", default=[], help="NAME=ADDR,ADDR,...")
    args = ap.parse_args()
    regions = {}
    for spec in args.region:
        name, _, addrs = spec.partition("=")
        regions[name] = sorted(addrs.split(","))
    client = Client(args.port)
    server = args.server

    for case in args.cases.split(","):
        if case == "static":
            q = f"static.{ZONE} A"
            r = client.ask(f"static.{ZONE}")
            if r["rcode"] != "NOERROR" or not r["aa"] or set(r["a"]) != STATIC or len(r["answer_types"]) != 3:
                fail(server, case, "expected NOERROR, AA and the 3 static addresses", q, r)
            print(f"check {server} {case}: ok ({r['size']} B answer)")
        elif case == "nxdomain":
            for i in (0, 4711, 16383):
                q = f"nope-{i}.{ZONE} A"
                r = client.ask(f"nope-{i}.{ZONE}")
                if r["rcode"] != "NXDOMAIN" or not r["aa"] or r["answer_types"] or r["authority_types"] != [6]:
                    fail(server, case, "expected NXDOMAIN, AA, no answer and the SOA in authority", q, r)
            print(f"check {server} {case}: ok ({r['size']} B answer)")
        elif case == "geo-noecs":
            q = f"geo.{ZONE} A (no ECS, from 127.0.0.1)"
            r = client.ask(f"geo.{ZONE}")
            if r["rcode"] != "NOERROR" or not r["aa"] or r["a"] != regions[FALLBACK_REGION] or r["ttls"] != [TTL]:
                fail(server, case, f"expected {FALLBACK_REGION} {regions[FALLBACK_REGION]} with TTL {TTL}", q, r)
            print(f"check {server} {case}: ok ({r['size']} B answer: {FALLBACK_REGION})")
        elif case == "geo":
            counts, sizes, scopes = {}, set(), set()
            with open(args.sample) as f:
                sample = [line.split() for line in f if line.strip()]
            for subnet, continent, country in sample:
                region = CONTINENT_REGION.get(continent, FALLBACK_REGION)
                q = f"geo.{ZONE} A ECS {subnet} ({country}, {continent})"
                r = client.ask(f"geo.{ZONE}", ecs=subnet)
                if r["rcode"] != "NOERROR" or not r["aa"] or r["a"] != regions[region] or r["ttls"] != [TTL]:
                    fail(server, case, f"expected {region} {regions[region]} with TTL {TTL}", q, r)
                if r["ecs_scope"] is None:
                    fail(server, case, "expected the ECS option echoed", q, r)
                counts[region] = counts.get(region, 0) + 1
                sizes.add(r["size"])
                scopes.add(r["ecs_scope"])
            spread = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            print(
                f"check {server} {case}: ok, all {len(sample)} subnets in their continent's region ({spread}); "
                f"answers {min(sizes)}-{max(sizes)} B, ECS scopes /{min(scopes)}-/{max(scopes)}"
            )
        else:
            sys.exit(f"check: unknown case {case}")


if __name__ == "__main__":
    main()

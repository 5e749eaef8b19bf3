#!/usr/bin/env bash
# fuzz/seeds.sh: real queries from dig and kdig as seeds of the `answer` and `edns` targets.
# Each tool's queries are caught by a UDP listener on loopback and written as they came, to
# fuzz/corpus/{answer,edns}/seed-dig-N and seed-kdig-N (answer seeds get their leading octet,
# which picks the client's address). Needs dig (bind9-dnsutils) and kdig (knot-dnsutils).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${PORT:-53531}
python3 - "$port" "$here/corpus" <<'PY' &
import os, socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
s.settimeout(20)
n = 0
seen = set()
try:
    while True:
        data, peer = s.recvfrom(4096)
        if data == b"stop":
            break
        if len(data) >= 12:
            # The query itself as a response (QR set), so that the tool stops waiting.
            s.sendto(data[:2] + bytes([data[2] | 0x80, data[3]]) + data[4:], peer)
        if data[2:] in seen or n >= 200:
            continue  # a tool's retry (it takes our echo for a bad answer): one copy is enough
        seen.add(data[2:])
        for target, prefix in (("answer", bytes([n % 4])), ("edns", b"")):
            os.makedirs(f"{out}/{target}", exist_ok=True)
            with open(f"{out}/{target}/seed-real-{n:03}", "wb") as f:
                f.write(prefix + data)
        n += 1
except socket.timeout:
    pass
print(f"{n} queries caught", file=sys.stderr)
PY
listener=$!
sleep 0.5
q() { "$@" +tries=1 +time=1 >/dev/null 2>&1 || true; }
for name in www.example.test geo.example.test example.test nope.example.test sub.example.test; do
    for type in A AAAA SOA NS TXT MX ANY DS; do
        q dig @127.0.0.1 -p "$port" "$name" "$type"
    done
done
q dig @127.0.0.1 -p "$port" +subnet=81.2.69.0/24 geo.example.test A
q dig @127.0.0.1 -p "$port" +subnet=2001:db8::/56 geo.example.test AAAA
q dig @127.0.0.1 -p "$port" +nsid +norec +cookie example.test SOA
q dig @127.0.0.1 -p "$port" +noedns www.example.test A
q dig @127.0.0.1 -p "$port" +dnssec +bufsize=4096 example.test DNSKEY
q dig @127.0.0.1 -p "$port" CH TXT id.server
q kdig @127.0.0.1 -p "$port" +subnet=81.2.69.0/24 geo.example.test A
q kdig @127.0.0.1 -p "$port" +nsid +dnssec +padding=64 example.test SOA
q kdig @127.0.0.1 -p "$port" +noedns +cd +ad www.example.test AAAA
q kdig @127.0.0.1 -p "$port" +edns=1 www.example.test A
q kdig @127.0.0.1 -p "$port" +ednsopt=65001:abcd www.example.test A
q kdig @127.0.0.1 -p "$port" -c CH hostname.bind TXT
python3 -c "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'stop', ('127.0.0.1', $port))"
wait "$listener"

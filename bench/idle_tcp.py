#!/usr/bin/env python3
"""Holds N idle TCP connections to a DNS server, for bench/idle_tcp.

    python3 bench/idle_tcp.py ADDR PORT N

Opens N connections from 127.0.0.2 (so that their local ports never take one another test
or server is about to bind on 127.0.0.1), checks that the first and the last are answered,
prints "holding N connections", and waits for standard input to close. Then it checks that
every connection is still open (none closed by the server meanwhile), that the first is
still answered, prints what it found, and closes them all.
"""

import select
import socket
import struct
import sys
import time

QUERY_ID = 0x4242
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h


def query():
    # static.bench.test. A, no EDNS: a header, one question.
    name = b"".join(bytes([len(label)]) + label for label in (b"static", b"bench", b"test")) + b"\0"
    message = struct.pack(">HHHHHH", QUERY_ID, 0, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
    return struct.pack(">H", len(message)) + message


def answered(sock, timeout=5.0):
    sock.settimeout(timeout)
    sock.sendall(query())
    head = b""
    while len(head) < 2:
        chunk = sock.recv(2 - len(head))
        if not chunk:
            return False
        head += chunk
    (length,) = struct.unpack(">H", head)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return False
        body += chunk
    sock.setblocking(False)
    return struct.unpack(">H", body[:2])[0] == QUERY_ID


def main():
    addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    socks = []
    started = time.monotonic()
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The port is chosen at connect, for the address pair (IP_BIND_ADDRESS_NO_PORT): bind
        # alone must find a port free of every socket on 127.0.0.2, TIME_WAIT ones included.
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind(("127.0.0.2", 0))
        s.settimeout(5)
        s.connect((addr, port))
        s.setblocking(False)
        socks.append(s)
    if not (answered(socks[0]) and answered(socks[-1])):
        sys.exit("idle_tcp.py: the first or the last connection was not answered")
    print(f"holding {count} connections (opened in {time.monotonic() - started:.1f} s)", flush=True)
    sys.stdin.read()
    # A connection the server closed is readable (EOF); an open idle one is not.
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    by_fd = {s.fileno(): s for s in socks}
    closed = 0
    for fd, events in poller.poll(0):
        try:
            if events & (select.POLLHUP | select.POLLERR) or by_fd[fd].recv(1) == b"":
                closed += 1
        except ConnectionResetError:
            closed += 1
    first = answered(socks[0])
    for s in socks:
        s.close()
    print(f"after the run: {count - closed} of {count} still open; the first answered: {first}")
    if closed or not first:
        sys.exit(1)


if __name__ == "__main__":
    main()

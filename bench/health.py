#!/usr/bin/env python3
"""The health target of the load benchmark: answers 200 "ok" to every GET or HEAD.

    python3 bench/health.py PORT ADDR [ADDR...]

Listens on PORT of each loopback ADDR (the benchmark's endpoint addresses, 127.10.x.y, since
gdnsd's http_status probes the address it answers with), one thread per address, until killed.
Both Meridian and gdnsd probe it every second; it logs nothing.
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except OSError:
                pass  # gdnsd hangs up once it has read the status line

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a prober that hangs up early is no error here


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port = int(sys.argv[1])
    servers = []
    for addr in sys.argv[2:]:
        if not addr.startswith("127."):
            sys.exit(f"health.py: {addr} is not a loopback address")
        servers.append(Server((addr, port), Ok))
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()

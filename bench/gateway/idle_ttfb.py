#!/usr/bin/env python3
"""A new client's time to first byte while many idle keep-alive connections
are open (bench/scenarios/40-gateway.sh; python3 standard library only).

    idle_ttfb.py HOST PORT PATH IDLE NEW

1. Opens IDLE connections; on each sends one keep-alive GET PATH and reads
   the whole answer; then leaves it open and idle.
2. Then NEW times, one after the other: a new connection, one GET PATH
   ("Connection: close"); the time from before connect() to the first byte
   of the answer is recorded (microseconds); the answer is read to its end.
3. Checks that the idle connections are still open and still served: one
   more GET on each of them.

Prints one line:
    ok IDLE_OPEN NEW_OK P50_US P99_US MAX_US CONN_PER_S NON2XX ERRORS IDLE_SERVED IDLE_CLOSED OPEN_S
(IDLE_OPEN: idle connections that got their first answer; NEW_OK: new
connections timed; ERRORS: failed new connections (refused, reset, timeout);
IDLE_SERVED: idle connections that answered the final GET; IDLE_CLOSED:
idle connections the server had closed by then; OPEN_S: seconds taken to
open the idle ones.) Exits 1, with a reason on stderr, when it cannot go on.
"""
import socket
import sys
import time

TIMEOUT = 10.0


def request(path, close):
    return ("GET %s HTTP/1.1\r\nHost: bench\r\nUser-Agent: hsn-bench-idle\r\n"
            "Accept: */*\r\n%s\r\n" % (path, "Connection: close\r\n" if close else "")).encode()


def read_response(sock, first=b""):
    """Read one HTTP/1.1 response with a Content-Length (or until EOF when
    there is none); returns the status code."""
    buf = first
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers ended (%d bytes)" % len(buf))
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
    else:
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed in the body (%d of %d bytes)" % (len(body), length))
            body += chunk
    return status


def pct(sorted_vals, p):
    # nearest rank
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    n_idle, n_new = int(sys.argv[4]), int(sys.argv[5])

    # 1. the idle keep-alive connections
    t0 = time.monotonic()
    idle = []
    for i in range(n_idle):
        s = socket.create_connection((host, port), timeout=TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.sendall(request(path, False))
            status = read_response(s)
        except (OSError, ValueError, IndexError) as e:
            print("idle connection %d of %d: %s" % (i + 1, n_idle, e), file=sys.stderr)
            return 1
        if status != 200:
            print("idle connection %d of %d: HTTP %d" % (i + 1, n_idle, status), file=sys.stderr)
            return 1
        idle.append(s)
    open_s = time.monotonic() - t0

    # 2. new clients, one at a time
    req = request(path, True)
    lat, non2xx, errors = [], 0, 0
    t1 = time.monotonic()
    for _ in range(n_new):
        start = time.perf_counter_ns()
        try:
            s = socket.create_connection((host, port), timeout=TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(req)
            first = s.recv(65536)
            ttfb = (time.perf_counter_ns() - start) / 1000.0
            if not first:
                raise ConnectionError("closed without an answer")
            status = read_response(s, first)
            s.close()
        except (OSError, ValueError, IndexError) as e:
            errors += 1
            if errors == 1:
                print("new connection: %s" % e, file=sys.stderr)
            continue
        lat.append(ttfb)
        if not 200 <= status < 400:
            non2xx += 1
    elapsed = time.monotonic() - t1
    lat.sort()

    # 3. are the idle ones still there, and served?
    served = closed = 0
    for s in idle:
        try:
            s.sendall(request(path, False))
            if read_response(s) == 200:
                served += 1
        except (OSError, ValueError, IndexError):
            closed += 1
    for s in idle:
        s.close()

    print("ok %d %d %.1f %.1f %.1f %.1f %d %d %d %d %.2f" % (
        len(idle), len(lat), pct(lat, 50), pct(lat, 99), lat[-1] if lat else float("nan"),
        len(lat) / elapsed if elapsed > 0 else 0.0, non2xx, errors, served, closed, open_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())

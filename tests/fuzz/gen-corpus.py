#!/usr/bin/env python3
"""Write the seed corpus for fuzz_envelope: a handful of small, valid hsn
envelopes (and one of another protocol version), encoded by a tiny msgpack
writer here so that no Python package is needed.

    python3 tests/fuzz/gen-corpus.py [outdir]   (default tests/fuzz/corpus)

Numbers follow proto/hsn_proto.def."""
import os
import struct
import sys

# proto/hsn_proto.def
VERSION = 1
KIND = dict(request=1, reply=2, ready=3, heartbeat=4, disconnect=5, stats=6)
SERVICE = dict(gateway=1, cache=2, query=3, agent_bus=4, monitor=5)
STATUS = dict(ok=0, not_found=10, malformed=16, unavailable=20)
F = dict(message=1, service=2, replica=3, credits=4, ns=5, key=6, value=7,
         ttl=8, tags=9, level=10, keys=11, result=12, deadline=13, stats=14,
         uptime=15, interval=16, health=17, count=18, cpu=19, rss=20,
         window=21)


def op(service, num):
    return (SERVICE[service] << 8) | num


class Bin(bytes):
    pass


class Ext:
    def __init__(self, type_, data):
        self.type, self.data = type_, data


def pack(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v <= 0x7f:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if v > 0:
            for code, fmt in ((0xcc, ">B"), (0xcd, ">H"), (0xce, ">I"), (0xcf, ">Q")):
                if v < 1 << (8 * struct.calcsize(fmt)):
                    return bytes([code]) + struct.pack(fmt, v)
        for code, fmt in ((0xd0, ">b"), (0xd1, ">h"), (0xd2, ">i"), (0xd3, ">q")):
            bits = 8 * struct.calcsize(fmt)
            if -(1 << (bits - 1)) <= v:
                return bytes([code]) + struct.pack(fmt, v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, Bin):
        n = len(v)
        head = b"\xc4" + struct.pack(">B", n) if n < 256 else b"\xc5" + struct.pack(">H", n)
        return head + bytes(v)
    if isinstance(v, Ext):
        n = len(v.data)
        fixed = {1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}
        head = bytes([fixed[n]]) if n in fixed else b"\xc7" + bytes([n])
        return head + struct.pack("b", v.type) + v.data
    if isinstance(v, str):
        b = v.encode()
        n = len(b)
        if n < 32:
            return bytes([0xa0 | n]) + b
        if n < 256:
            return b"\xd9" + bytes([n]) + b
        return b"\xda" + struct.pack(">H", n) + b
    if isinstance(v, (list, tuple)):
        n = len(v)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(v)


def envelope(kind, rid, service, op_, status, body, version=VERSION):
    return pack([version, KIND[kind], rid, service, op_, status, body])


SEEDS = {
    "request-cache-get": envelope(
        "request", 1, SERVICE["cache"], op("cache", 1), 0,
        {F["ns"]: "users", F["key"]: "u:42", F["deadline"]: 2500}),
    "request-cache-set": envelope(
        "request", 2, SERVICE["cache"], op("cache", 3), 0,
        {F["ns"]: "users", F["key"]: "u:42", F["ttl"]: 300,
         F["value"]: {"name": "Ada", "age": 36, "tags": ["a", "b"], "ok": True,
                      "score": 9.5, "raw": Bin(b"\x00\x01\xc1")},
         F["tags"]: ["team:1", "role:admin"]}),
    "request-cache-mget": envelope(
        "request", 0xffffffff, SERVICE["cache"], op("cache", 2), 0,
        {F["ns"]: "n", F["keys"]: ["a", "b", "c"]}),
    "reply-not-found": envelope(
        "reply", 1, SERVICE["cache"], op("cache", 1), STATUS["not_found"],
        {F["message"]: "no such key", F["level"]: "l2"}),
    "reply-result": envelope(
        "reply", 2**64 - 1, SERVICE["monitor"], op("monitor", 2), 0,
        {F["result"]: {"replicas": [{"id": "h:1", "cpu": 1.25, "up": 12},
                                    {"id": "h:2", "lag": -3, "x": None}],
                       "ext": Ext(5, b"abcd"), "deep": [[[[{}]]]]},
         F["count"]: 2, 99: "unknown field", 0: [1, 2]}),
    "ready": envelope(
        "ready", 0, SERVICE["cache"], 0, 0,
        {F["replica"]: "host:1234", F["credits"]: 8, F["service"]: 2}),
    "heartbeat": envelope(
        "heartbeat", 7, SERVICE["query"], 0, 0,
        {F["interval"]: 1000, F["uptime"]: 86400, F["replica"]: "q:9"}),
    "stats": envelope(
        "stats", 8, SERVICE["cache"], 0, 0,
        {F["stats"]: {"hits": 1 << 40, "misses": 12, "p99_ms": 3.5},
         F["health"]: {"redis": "up", "pg": "down"}, F["cpu"]: 12.5,
         F["rss"]: 50 << 20, F["window"]: 60}),
    "disconnect": envelope("disconnect", 9, SERVICE["agent_bus"], 0, 0, {}),
    "error-reply": envelope(
        "reply", 10, SERVICE["gateway"], op("gateway", 1),
        STATUS["unavailable"], {F["message"]: "x" * 40}),
    "version-2": envelope(
        "request", 11, SERVICE["cache"], op("cache", 1), 0,
        {F["key"]: "k"}, version=2),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name + ".mp"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

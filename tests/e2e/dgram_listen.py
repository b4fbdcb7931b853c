#!/usr/bin/env python3
"""A stand-in for systemd's ends of two datagram protocols, for the service
tests: sd_notify(3) ("READY=1\\nSTATUS=...") and the journal's native protocol
(KEY=value lines, or KEY\\n<64-bit little-endian length><bytes>\\n for values
holding a newline). Binds PATH, writes each datagram received as one JSON
object per line to OUT (flushed), until killed. Usage: dgram_listen.py PATH OUT"""
import json
import os
import socket
import struct
import sys


def parse(data):
    fields, i = {}, 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            nl = len(data)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            fields[k.decode()] = v.decode(errors="replace")
            i = nl + 1
        else:   # binary-safe field
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            fields[line.decode()] = data[nl + 9:nl + 9 + n].decode(errors="replace")
            i = nl + 9 + n + 1
    return fields


def main():
    path, out = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(out, "a") as f:
        f.write(json.dumps({"listening": path}) + "\n")
        f.flush()
        while True:
            data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(16))
            if not data:   # a large journal entry comes as a memfd
                for level, kind, fd in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        n = struct.unpack("i", fd[:4])[0]
                        data = os.pread(n, 1 << 20, 0)
            f.write(json.dumps(parse(data)) + "\n")
            f.flush()


main()

"""An unauthenticated flood from its own process: N connections that announce a frame, send part of it, wait.

Usage: flooder.py --unix PATH [--tcp HOST:PORT] --count N --announce BYTES --send BYTES

Connections alternate between the given addresses. Each sends a 4-byte header
announcing BYTES, then --send bytes of the body, then holds the connection
open until stdin closes. Prints "opened <n>" when every connection was tried.
"""

import argparse
import resource
import socket
import struct
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--unix", required=True)
parser.add_argument("--tcp")
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--announce", type=int, required=True)
parser.add_argument("--send", type=int, required=True)
args = parser.parse_args()

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
addresses = [("unix", args.unix)] + ([("tcp", args.tcp)] if args.tcp else [])
payload = struct.pack(">I", args.announce) + b"x" * args.send
held = []
opened = 0
for i in range(args.count):
    kind, address = addresses[i % len(addresses)]
    try:
        if kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(address)
        else:
            host, port = address.rsplit(":", 1)
            sock = socket.create_connection((host, int(port)))
        sock.settimeout(2.0)
        sock.sendall(payload)
        opened += 1
    except OSError:
        continue
    held.append(sock)
print(f"opened {opened}", flush=True)
sys.stdin.read()
for sock in held:
    sock.close()

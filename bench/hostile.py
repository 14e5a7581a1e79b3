#!/usr/bin/env python3
"""The log under hostile clients, in one run (issue "Hardening", numbers to reach).

1. Idle and slow connections: N sockets (half send one header line and stop, half send
   nothing), opened by helper processes (each process may hold only the open-file limit);
   meanwhile a well-behaved client makes R requests (a new connection each, GET /api/v1/log)
   and the p50/p99/max latencies are printed, against the same client on the quiet log.
2. DSSE admission CPU: E entries at the admission limits (8 signatures x 8 verifiers, each
   signature by the verifier listed last) are posted; the server's CPU time (utime+stime from
   /proc) per entry is printed.

Usage: bench/hostile.py [SIGIL_BINARY] [CONNECTIONS] [REQUESTS] [ENTRIES]
Needs python3-cryptography (pip install cryptography).
"""
import base64, json, os, resource, socket, subprocess, sys, tempfile, time

sigil = sys.argv[1] if len(sys.argv) > 1 else "target/release/sigil"
conns = int(sys.argv[2]) if len(sys.argv) > 2 else 19_600
requests = int(sys.argv[3]) if len(sys.argv) > 3 else 500
entries = int(sys.argv[4]) if len(sys.argv) > 4 else 50


def http(addr, method, path, body=b""):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30)
    req = f"{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {len(body)}\r\nContent-Type: application/json\r\n\r\n".encode() + body
    s.sendall(req)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out


def latencies(addr, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        r = http(addr, "GET", "/api/v1/log")
        assert r.startswith(b"HTTP/1.1 200"), r[:100]
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return ts[len(ts) // 2], ts[int(len(ts) * 0.99) - 1], ts[-1]


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


HOLDER = r'''
import socket, sys, time, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for i in range(n):
    s = socket.create_connection((host, port))
    if i % 2 == 0:
        s.sendall(b"GET /api/v1/log HTTP/1.1\r\n")
    held.append(s)
print("held", flush=True)
time.sleep(3600)
'''


def main():
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    work = tempfile.mkdtemp()
    ready = os.path.join(work, "ready")
    srv = subprocess.Popen([sigil, "log", "serve", "--listen", "127.0.0.1:0", "--data",
                            os.path.join(work, "log"), "--ready-file", ready,
                            "--header-timeout", "600"], stderr=subprocess.DEVNULL)
    while not (os.path.exists(ready) and open(ready).read().endswith("\n")):
        time.sleep(0.02)
    addr = open(ready).read().strip().removeprefix("http://")
    host, port = addr.rsplit(":", 1)
    quiet = latencies(addr, requests)
    print(f"quiet log: p50 {quiet[0]:.2f} ms, p99 {quiet[1]:.2f} ms, max {quiet[2]:.2f} ms ({requests} requests)")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per = max(1, hard - 200)
    holders, left = [], conns
    while left > 0:
        k = min(per, left)
        p = subprocess.Popen([sys.executable, "-c", HOLDER, host, port, str(k)], stdout=subprocess.PIPE, text=True)
        holders.append(p)
        left -= k
    for p in holders:
        assert p.stdout.readline().strip() == "held"
    flood = latencies(addr, requests)
    print(f"{conns} idle/slow connections held: p50 {flood[0]:.2f} ms, p99 {flood[1]:.2f} ms, max {flood[2]:.2f} ms (target p99 < 100 ms)")
    for p in holders:
        p.kill()
        p.wait()

    # DSSE entries at the admission limits.
    payload = json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a", "digest": {"sha256": "ab" * 32}}], "predicateType": "x", "predicate": {"pad": "x" * 2000}}).encode()
    pt = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(pt), pt.encode(), len(payload), payload)
    bodies = []
    for _ in range(entries):
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(8)]
        sigs = [{"sig": base64.b64encode(k.sign(pae, ec.ECDSA(hashes.SHA256()))).decode()} for k in keys]
        pems = [base64.b64encode(k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)).decode() for k in reversed(keys)]
        env = json.dumps({"payloadType": pt, "payload": base64.b64encode(payload).decode(), "signatures": sigs})
        bodies.append(json.dumps({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {"envelope": env, "verifiers": pems}}}).encode())
    before = cpu(srv.pid)
    for b in bodies:
        r = http(addr, "POST", "/api/v1/log/entries", b)
        assert r.startswith(b"HTTP/1.1 201"), r[:200]
    used = (cpu(srv.pid) - before) / entries * 1000
    print(f"DSSE entries of 8 signatures x 8 verifiers: {used:.2f} ms of server CPU each ({entries} entries; target < 10 ms)")
    srv.terminate()
    srv.wait()


main()

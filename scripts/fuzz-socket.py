#!/usr/bin/env python3
"""Socket fuzz run (docs/reliability.md, "Socket fuzz"): malformed requests against a running daemon's Unix socket.

Every request is bad by construction: broken JSON, wrong types, unknown kinds and fields, bodies over the limit,
invalid UTF-8, path and query tricks, unknown methods, broken HTTP framing, requests cut short, and slow clients that
never finish their request. The run then checks:

- the daemon never crashed (same PID alive, health answers at the end), and is idle afterwards (under 5 % of a core:
  a connection left in a bad state must not keep a task spinning);
- every answer is a 4xx with a JSON body of the form {"error": {"code", "message"}} (a request cut short may get no
  answer: the client is gone; a slow client must be dropped by the daemon within its idle timeout; an answer to
  CONNECT is a 4xx without a body, as HTTP has it);
- the database is unchanged: the same rows in job, event and delivery (hashed before and after), and
  PRAGMA integrity_check says ok.

Usage: fuzz-socket.py --socket PATH --db PATH --pid PID [--requests N] [--seed S] [--workers W]
                      [--idle-timeout SECONDS] [--slow-clients K]
Prints its figures and PASS or FAIL as the last line; exits 1 on FAIL.
"""
import argparse
import collections
import hashlib
import json
import os
import random
import socket
import sqlite3
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# Set from the daemon's catalog (--kinds) and the simulator's state (--state) in main(): every kind the daemon lists,
# each with its smallest valid parameters (the required ones without a default), so that taking any one away or
# giving any one a value of another type makes the request invalid.
KINDS = []
VALID = {}
TYPES = {}


def load_kinds(kinds_path, state_path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import samples
    kinds = json.load(open(kinds_path))["kinds"]
    state = json.load(open(state_path))
    plan = samples.Plan(state)
    for n, kind in enumerate(kinds, 1):
        minimal = {p["name"] for p in kind["params"]
                   if p["required"] and p.get("default") is None and not p.get("configured")}
        values = {k: v for k, v in samples.params(kind, state, n, plan).items() if k in minimal}
        KINDS.append(kind["name"])
        VALID[kind["name"]] = values
        TYPES[kind["name"]] = {p["name"]: p["type"] for p in kind["params"]}


def wrong_value(r, typ):
    """A value of another JSON type than the parameter takes (a single string is a valid one-item list)."""
    if typ == "boolean":
        return r.choice(["true", 1, 0, None, [], {}, ["x"]])
    if typ == "integer":
        return r.choice(["12", "x", True, None, [], {}, [1], 1.5, -3, 0])
    if typ.startswith("["):
        return r.choice([1, True, None, {}, [], [1], [None], {"a": 1}])
    return r.choice([1, -1, 1.5, True, False, None, [], {}, ["x"], {"a": 1}, 10**30])


def request(method, path, body=b"", headers=None, content_type="application/json"):
    """Bytes of one HTTP/1.1 request that closes its connection after the answer."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: localhost", b"Connection: close"]
    if content_type:
        lines.append(b"Content-Type: " + content_type.encode())
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    for name, value in (headers or []):
        lines.append((name.encode() if isinstance(name, str) else name) + b": "
                     + (value.encode() if isinstance(value, str) else value))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def submit(body, **kw):
    return request("POST", "/v1/jobs", body, **kw)


# Each generator returns (category, bytes, expectation) where expectation is "answer" (a JSON 4xx must come),
# "maybe" (the request is cut short: an answer, if any, must be a JSON 4xx) or "status" (CONNECT: a 4xx whose body
# HTTP leaves out).

def gen_bad_json(r):
    kind = r.choice(KINDS)
    valid = json.dumps({"kind": kind, "params": VALID[kind]})
    choice = r.randrange(12)
    if choice == 0:
        body = valid[: r.randrange(1, len(valid) - 1)]  # cut inside: never valid JSON
    elif choice == 1:
        body = valid + r.choice(["}", "]", ",", "x", "{}", " {\"a\":1}"])
    elif choice == 2:
        body = bytes(r.randrange(256) for _ in range(r.randrange(1, 400)))
    elif choice == 3:
        depth = r.choice([100, 1000, 10000, 30000])
        body = "[" * depth + "]" * depth
    elif choice == 4:
        depth = r.choice([100, 1000, 5000])
        body = '{"kind":"site.delete","params":' + '{"a":' * depth + "1" + "}" * depth + "}"
    elif choice == 5:
        body = r.choice(["", " ", "null", "true", "0", "\"site.delete\"", "[]", "{}", "[{}]"])
    elif choice == 6:
        body = valid.replace(":", "=", 1)
    elif choice == 7:
        body = '{"kind":"site.delete","params":{"site_id":"x",}}'
    elif choice == 8:
        body = '{"kind":"site.delete","params":{"site_id":NaN}}'
    elif choice == 9:
        body = "\ufeff" + valid[:-1]
    elif choice == 10:
        body = "// comment\n" + valid
    else:
        body = '{"kind":"site.delete","params":{"site_id":"x"}' + "\x00"
    return "bad_json", submit(body), "answer"


def gen_wrong_types(r):
    kind = r.choice(KINDS)
    params = dict(VALID[kind])
    choice = r.randrange(7)
    odd = r.choice([1, -1, 1.5, True, False, None, [], {}, ["x"], {"a": 1}, 10**30])  # never a string
    if choice == 0:
        body = {"kind": odd, "params": params}
    elif choice == 1:
        body = {"kind": kind, "params": r.choice([1, "x", [], None, True, [params]])}
    elif choice == 2:
        field = r.choice(sorted(params))
        params[field] = wrong_value(r, TYPES[kind][field])
        body = {"kind": kind, "params": params}
    elif choice == 3:
        body = {"kind": kind, "params": params, "note": r.choice([1, [], {}, True, "n" * 1001])}
    elif choice == 4:
        body = {"kind": kind}
    elif choice == 5:
        body = {"params": params}
    else:
        field = r.choice(sorted(params))
        del params[field]
        if not params:
            params = {"unknown": 1}
        body = {"kind": kind, "params": params}
    return "wrong_types", submit(json.dumps(body)), "answer"


def gen_unknown(r):
    choice = r.randrange(6)
    if choice == 0:
        kind = r.choice(["Site.Create", "site.create ", " site.delete", "site", "site.", ".delete", "site.create_plain\n",
                         "SITE.DELETE", "backup.restore2", "site\u0000.delete", "sïte.delete", "site.delete\u200b"])
        body = {"kind": kind, "params": VALID["site.delete"]}
    elif choice == 1:
        body = {"kind": "".join(chr(r.randrange(32, 0x2FFF)) for _ in range(r.randrange(1, 40))), "params": {}}
    elif choice == 2:
        body = {"kind": "x" * r.choice([1000, 10000, 60000]), "params": {}}
    elif choice == 3:
        kind = r.choice(KINDS)
        body = {"kind": kind, "params": dict(VALID[kind], **{r.choice(["evil", "id", "__proto__", "site_ID"]): 1})}
    elif choice == 4:
        kind = r.choice(KINDS)
        body = {"kind": kind, "params": VALID[kind], r.choice(["notes", "Kind", "priority", "id", "state"]): "x"}
    else:
        body = {"kind": "", "params": {}}
    return "unknown_kind_or_field", submit(json.dumps(body)), "answer"


def gen_bad_values(r):
    """Well-typed but invalid values: validation must refuse them."""
    kind = r.choice(["site.delete", "site.create_plain", "backup.restore", "site.clone"])
    params = dict(VALID[kind])
    if kind == "site.delete":
        params["site_id"] = r.choice(["", "../../etc/passwd", "a/b", "x" * 5000, "id with space", "%2e%2e", "\n"])
    elif kind == "site.create_plain":
        params[r.choice(["display_name", "region"])] = r.choice(["", "x" * 5000, "\u0000", "  "])
    elif kind == "backup.restore":
        params["backup_id"] = r.choice([0, -1, 2**63, 1.5])
    else:
        params["source_env_id"] = r.choice(["", "../x", "x" * 5000])
    return "bad_values", submit(json.dumps({"kind": kind, "params": params})), "answer"


def gen_huge(r):
    choice = r.randrange(4)
    if choice == 0:
        size = r.choice([64 * 1024 + 1, 100_000, 1_000_000, 8_000_000])
        body = '{"kind":"site.delete","params":{"site_id":"' + "x" * size + '"}}'
        return "huge_body", submit(body), "answer"
    if choice == 1:
        # Claims a huge body and sends a little: the claim alone is refused.
        data = (b"POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                + b"Content-Length: " + str(r.choice([10**7, 10**12, 2**62])).encode() + b"\r\n\r\n{\"kind\":")
        return "huge_body", data, "maybe"
    if choice == 2:
        data = request("GET", "/v1/health", headers=[("X-Big", "v" * r.choice([90_000, 200_000]))])
        return "huge_headers", data, "answer"
    data = request("GET", "/v1/health", headers=[(f"X-H{i}", "v") for i in range(1200)])
    return "huge_headers", data, "answer"


def gen_utf8(r):
    choice = r.randrange(5)
    bad = r.choice([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\x28", b"\xed\xa0\x80", b"\xc0\xaf"])
    if choice == 0:
        body = b'{"kind":"site.delete","params":{"site_id":"' + bad + b'"}}'
        return "invalid_utf8", submit(body), "answer"
    if choice == 1:
        body = b'{"kind":"site.create_plain","params":{"display_name":"A' + bad + b'","region":"us-central1"}}'
        return "invalid_utf8", submit(body), "answer"
    if choice == 2:
        body = b'{"kind":"site.delete' + bad + b'","params":{"site_id":"s"}}'
        return "invalid_utf8", submit(body), "answer"
    if choice == 3:
        return "invalid_utf8", b"GET /v1/jobs/" + bad + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "answer"
    return "invalid_utf8", b"GET /v1/jobs?state=" + bad + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "answer"


PATHS = [
    ("GET", "/v1/jobs/0"), ("GET", "/v1/jobs/-1"), ("GET", "/v1/jobs/abc"), ("GET", "/v1/jobs/1e3"),
    ("GET", "/v1/jobs/99999999999999999999999"), ("GET", "/v1/jobs/%31"), ("GET", "/v1/jobs/0x10"),
    ("GET", "/v1/jobs/999999999"), ("GET", "/v1/jobs/1/nope"), ("GET", "/v1/jobs?limit=-1"),
    ("GET", "/v1/jobs?limit=0"), ("GET", "/v1/jobs?limit=abc"), ("GET", "/v1/jobs?limit=1001"),
    ("GET", "/v1/jobs?limit=99999999999999999999"), ("GET", "/v1/jobs?state=bogus"), ("GET", "/v1/jobs?kind=bogus"),
    ("GET", "/v1/jobs?before=0"), ("GET", "/v1/jobs?before=x"), ("GET", "/v1/jobs?state=%00"),
    ("GET", "/v1/events?after=-5"), ("GET", "/v1/events?after=abc"), ("GET", "/v1/events?job=abc"),
    ("GET", "/v1/events?limit=0"), ("GET", "/v1/events?tail=-1"), ("GET", "/v1/events?after=1e9999"),
    ("GET", "/v1/jobs/../../etc/passwd"), ("GET", "/../../../etc/passwd"), ("GET", "/v1/jobs/%2e%2e/%2e%2e/etc"),
    ("GET", "/v2/jobs"), ("GET", "/v1"), ("GET", "/v1/"), ("GET", "/admin"), ("GET", "/v1/jobs/1/events/../x"),
    ("POST", "/v1/jobs/999999999/cancel"), ("POST", "/v1/jobs/999999999/retry"), ("POST", "/v1/jobs/abc/cancel"),
    ("POST", "/v1/jobs/-3/retry"), ("POST", "/v1/jobs/0/cancel"), ("POST", "/v1/health"), ("POST", "/v1/events"),
    ("POST", "/v1/webhooks/nope/enable"), ("GET", "/v1/deliveries?state=bogus"), ("GET", "/v1/deliveries?limit=-1"),
    ("POST", "/v1/deliveries/999999999/redeliver"), ("POST", "/v1/deliveries/abc/redeliver"),
    ("GET", "/v1/kinsta/sites/%2e%2e"), ("GET", "/v1/kinsta/sites/..%2f..%2fetc"), ("GET", "/v1/kinsta/environments/a%00b/backups"),
    ("PUT", "/v1/jobs"), ("DELETE", "/v1/jobs/1"), ("PATCH", "/v1/jobs/1"), ("DELETE", "/v1/jobs"),
    ("PUT", "/v1/health"), ("TRACE", "/v1/jobs"), ("FOO", "/v1/jobs"), ("CONNECT", "localhost:80"),
    ("GET", "http://evil.example/v1/jobs/0"), ("GET", "*"), ("GET", "/" + "a" * 60000),
    ("GET", "/v1/jobs/" + "9" * 5000), ("GET", "/v1/jobs?" + "&".join(f"x{i}=y" for i in range(3000)) + "&limit=-1"),
]


def gen_paths(r):
    method, path = r.choice(PATHS)
    body = b""
    if method in ("POST", "PUT", "PATCH") and r.random() < 0.5:
        body = r.choice([b"{}", b"garbage", b'{"kind":"site.delete","params":{"site_id":"s"}}'])
    if method == "CONNECT":
        # An answer to CONNECT carries no body in HTTP (SwiftNIO's encoder drops it): a 4xx is all there can be.
        return "connect", request(method, path, body), "status"
    return "path_tricks", request(method, path, body), "answer"


def gen_framing(r):
    choice = r.randrange(12)
    items = [
        b"GARBAGE\r\n\r\n",
        b"GET /v1/health HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /v1/health\r\n\r\n",
        b"G\x00T /v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
        b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost x\r\nBad Header\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        bytes(r.randrange(256) for _ in range(r.randrange(1, 200))) + b"\r\n\r\n",
    ]
    return "broken_framing", items[choice], "answer"


def gen_truncated(r):
    kind = r.choice(KINDS)
    full = submit(json.dumps({"kind": kind, "params": VALID[kind]}))
    head_end = full.index(b"\r\n\r\n")
    if r.random() < 0.5:
        cut = r.randrange(1, head_end)  # inside the head
    else:
        cut = r.randrange(head_end + 4, len(full) - 1)  # inside the body: Content-Length is never met
    return "truncated", full[:cut], "maybe"


GENERATORS = [gen_bad_json, gen_wrong_types, gen_unknown, gen_bad_values, gen_huge, gen_utf8, gen_paths,
              gen_framing, gen_truncated]
WEIGHTS = [16, 16, 12, 10, 4, 10, 16, 10, 6]


def exchange(path, data, timeout=15.0):
    """Sends `data`, half-closes, reads to EOF. Returns (status, headers, body, seconds) or (None, …) if no answer."""
    start = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)

    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the daemon answered and closed before taking everything (a body over the limit)

    try:
        s.connect(path)
        # Send and read at once, as curl does: a daemon that answers 413 early is read while the rest still goes out.
        sender = None
        if len(data) > 65536:
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
        else:
            send()
        out = bytearray()
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
            if complete(out):
                break  # the whole answer is here; the daemon may still be waiting for the rest of a huge body
    finally:
        s.close()
    elapsed = time.monotonic() - start
    if not out:
        return None, {}, b"", elapsed
    head, _, body = bytes(out).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return status, headers, body, elapsed


def complete(out):
    head, sep, body = bytes(out).partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or 0)
    return False


def json_error(headers, body):
    if not headers.get("content-type", "").startswith("application/json"):
        return False
    try:
        error = json.loads(body)["error"]
        return isinstance(error["code"], str) and isinstance(error["message"], str)
    except Exception:
        return False


def db_fingerprint(db):
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        digest = {}
        for table in ("job", "event", "delivery"):
            h = hashlib.sha256()
            count = 0
            for row in connection.execute(f"SELECT * FROM {table} ORDER BY 1"):
                h.update(repr(row).encode())
                count += 1
            digest[table] = (count, h.hexdigest())
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        return digest, integrity
    finally:
        connection.close()


def slow_client(path, idle_timeout, result, index):
    """Sends a request head a byte at a time, slower than the daemon waits: the daemon must drop it."""
    data = b"POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    start = time.monotonic()
    try:
        s.connect(path)
        s.settimeout(idle_timeout * 3 + 10)
        s.sendall(data[:10])  # then nothing: a head that never ends
        answer = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except socket.timeout:
            result[index] = ("not dropped", time.monotonic() - start, answer)
            return
        result[index] = ("dropped", time.monotonic() - start, answer)
    except OSError as error:
        result[index] = ("dropped", time.monotonic() - start, repr(error).encode())
    finally:
        s.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", required=True, help="the daemon's GET /v1/kinds")
    parser.add_argument("--state", required=True, help="the simulator's GET /_sim/state")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--idle-timeout", type=float, default=30)
    parser.add_argument("--slow-clients", type=int, default=20)
    parser.add_argument("--only", help="one generator (e.g. gen_framing), to narrow a finding down")
    args = parser.parse_args()
    load_kinds(args.kinds, args.state)

    before, integrity_before = db_fingerprint(args.db)
    rng = random.Random(args.seed)
    cases = []
    generators = [g for g in GENERATORS if args.only in (None, g.__name__)]
    weights = [w for g, w in zip(GENERATORS, WEIGHTS) if args.only in (None, g.__name__)]
    for _ in range(args.requests - args.slow_clients):
        generator = rng.choices(generators, weights)[0]
        cases.append(generator(random.Random(rng.getrandbits(64))))

    slow_results = [None] * args.slow_clients
    slow_threads = [threading.Thread(target=slow_client, args=(args.socket, args.idle_timeout, slow_results, i))
                    for i in range(args.slow_clients)]
    for thread in slow_threads:
        thread.start()

    tally = collections.Counter()
    statuses = collections.Counter()
    problems = []
    latencies = []
    # Exchanges that took over a second, by category and answer: a connection the daemon left open after its answer
    # (or a request it waited on) costs the client its wait for EOF, which shows here and nowhere else.
    slow = collections.Counter()
    slowest = []
    lock = threading.Lock()

    def run(case):
        category, data, expectation = case
        try:
            status, headers, body, elapsed = exchange(args.socket, data)
        except Exception as error:  # a refused connect would mean the daemon is gone
            with lock:
                problems.append((category, f"exchange failed: {error!r}", data[:120]))
            return
        with lock:
            tally[category] += 1
            latencies.append(elapsed)
            if elapsed > 1.0:
                slow[(category, status)] += 1
                slowest.append((elapsed, category, status, data[:100]))
            if status is None:
                statuses["no answer"] += 1
                if expectation == "answer":
                    problems.append((category, "no answer", data[:120]))
                return
            statuses[status] += 1
            if expectation == "status":
                if not (400 <= status < 500) or body:
                    problems.append((category, f"HTTP {status} {body[:160]!r}", data[:120]))
                return
            if not (400 <= status < 500) or not json_error(headers, body):
                problems.append((category, f"HTTP {status} {body[:160]!r}", data[:120]))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(run, cases))
    for thread in slow_threads:
        thread.join()
    duration = time.monotonic() - started

    for index, (verdict, seconds, answer) in enumerate(slow_results):
        tally["slow_client"] += 1
        if verdict != "dropped" or seconds > args.idle_timeout * 2 + 5:
            problems.append(("slow_client", f"{verdict} after {seconds:.1f} s", b""))
        elif answer and not answer.startswith(b"HTTP/1.1 4"):
            problems.append(("slow_client", f"answered {answer[:80]!r}", b""))
    slow_max = max((s for _, s, _ in slow_results), default=0)

    # A connection left in a bad state can keep a task spinning long after its request: the daemon, now idle, must
    # use next to no CPU.
    idle_cpu = None
    if os.path.exists(f"/proc/{args.pid}"):
        time.sleep(args.idle_timeout + 1)
        ticks = lambda: sum(int(x) for x in open(f"/proc/{args.pid}/stat").read().rsplit(")", 1)[1].split()[11:13])
        hz = os.sysconf("SC_CLK_TCK")
        before_ticks = ticks()
        time.sleep(5)
        idle_cpu = (ticks() - before_ticks) / hz / 5 * 100
    alive = os.path.exists(f"/proc/{args.pid}")
    health, _, _, _ = exchange(args.socket, request("GET", "/v1/health", content_type=None)) if alive else (None,) * 4
    after, integrity_after = db_fingerprint(args.db)
    unchanged = before == after

    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0
    total = sum(tally.values())
    print(f"fuzz: {total} malformed requests in {duration:.1f} s ({args.workers} clients at once, seed {args.seed})")
    for category in sorted(tally):
        print(f"  {category:24} {tally[category]:6}")
    print("  answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))))
    print(f"  slow clients dropped: {sum(1 for v, _, _ in slow_results if v == 'dropped')}/{args.slow_clients} "
          f"(latest after {slow_max:.1f} s; idle timeout {args.idle_timeout:g} s); p99 answer time {p99 * 1000:.1f} ms")
    print(f"  daemon alive: {alive} (health {health}); crashes: {0 if alive else 1}; CPU while idle after the run: "
          f"{idle_cpu if idle_cpu is None else round(idle_cpu, 1)} % of a core")
    print(f"  database unchanged: {unchanged} ({', '.join(f'{t} {c} rows' for t, (c, _) in after.items())}); "
          f"integrity_check: {integrity_after}")
    if slow:
        print(f"  exchanges over 1 s: {sum(slow.values())} ("
              + ", ".join(f"{c} {s or 'no answer'}: {n}" for (c, s), n in slow.most_common(8)) + ")")
        for elapsed, category, status, data in sorted(slowest, reverse=True)[:3]:
            print(f"    {elapsed:.1f} s {category} {status or 'no answer'} ← {data!r}")
    print(f"  answers that were not a JSON 4xx, or missing: {len(problems)}")
    for category, what, data in problems[:15]:
        print(f"    {category}: {what} ← {data!r}")
    ok = not problems and alive and health == 200 and unchanged and integrity_before == integrity_after == "ok" \
        and idle_cpu is not None and idle_cpu < 5
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

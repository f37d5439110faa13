#!/usr/bin/env python3
"""Connection flood (docs/reliability.md): more follow streams than the daemon's open-file limit, against its Unix socket.

One phase: submits JOBS jobs, opens FOLLOWERS connections at once, each `GET /v1/events?follow=1&after=0`, holds
them while the jobs run, lets half of the admitted followers leave, submits JOBS more jobs, waits for every job to
end, then lets the rest leave. It checks:

- the daemon never died (the same PID is alive at the end and answers /v1/health);
- every connection is either admitted (HTTP 200, then NDJSON events) or refused cleanly: a 503 whose JSON error code
  is too_many_connections, or a close without a byte, or a connect() refused at once; never a hang or a reset;
- no more are admitted than the cap the daemon reports (/v1/health socket.max_connections);
- every admitted follower saw a gap-free run of event seqs from 1 (the ones that stayed: up to the last seq);
- every job succeeded;
- clients that connect and send nothing (--silent, past the cap) are closed by the daemon within seconds;
- the daemon never holds as many descriptors as its limit (--nofile): nothing in it meets EMFILE;
- the daemon is idle while followers wait (under 50 % of a core: nothing spins on EMFILE);
- RSS once they have all left is back near the start (within --rss-slack-mb).

Prints its figures, then PASS or FAIL as the last line; exits 1 on FAIL.
Usage: flood.py --socket PATH --pid PID --followers N [--jobs K] [--hold S] [--rss-slack-mb MB]
"""
import argparse
import errno
import json
import os
import selectors
import socket
import sys
import time

HEAD_END = b"\r\n\r\n"


def rss_kb(pid, field="VmRSS"):
    """Resident memory in kB: VmRSS, or RssAnon (the heap and stacks, without the mapped binaries)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def exchange(path, method, target, body=None, timeout=5.0):
    """One request on a fresh connection: (status, parsed JSON body or None). Status 0: no answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        data = body.encode() if body else b""
        head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        sock.sendall(head.encode() + b"\r\n" + data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except OSError:
        return 0, None
    finally:
        sock.close()
    head, _, payload = received.partition(HEAD_END)
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0, None
    try:
        return status, json.loads(payload) if payload.strip() else None
    except ValueError:
        return status, None


def exchange_retrying(path, method, target, body=None, seconds=10.0):
    """An exchange tried again while the socket is full (503) or gives no answer, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        status, answer = exchange(path, method, target, body)
        if status not in (0, 503) or time.monotonic() > deadline:
            return status, answer
        time.sleep(0.1)


class Follower:
    def __init__(self, index, silent=False):
        self.index = index
        self.silent = silent
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.buffer = b""
        self.state = "connecting"  # -> sent -> admitted | refused_503 | closed_clean | broken:...
        self.seqs = []

    def fileno(self):
        return self.sock.fileno()


def run(args):
    problems = []
    figures = {}
    pid = args.pid
    status, health = exchange_retrying(args.socket, "GET", "/v1/health")
    if status != 200:
        print(f"flood: the daemon does not answer /v1/health (status {status})\nFAIL")
        return 1
    cap = health["socket"]["max_connections"]
    figures["cap"] = cap
    figures["rss_start_mb"] = rss_kb(pid) / 1024
    figures["anon_start_mb"] = rss_kb(pid, "RssAnon") / 1024

    jobs = []

    def submit(count, label):
        for i in range(count):
            body = json.dumps({"kind": "site.create_plain",
                               "params": {"display_name": f"Flood-{args.name}-{label}-{i}",
                                          "region": "us-central1"}})
            status, answer = exchange_retrying(args.socket, "POST", "/v1/jobs", body)
            if status != 201:
                problems.append(f"submit {label}-{i} answered {status}: {answer}")
            else:
                jobs.append(answer["id"])

    submit(args.jobs, "a")

    selector = selectors.DefaultSelector()
    followers = [Follower(i) for i in range(args.followers)]

    def pump(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                figures["max_fds"] = max(figures.get("max_fds", 0), len(os.listdir(f"/proc/{pid}/fd")))
            except OSError:
                pass
            for key, events in selector.select(timeout=0.05):
                follower = key.data
                if follower.state == "connecting" and events & selectors.EVENT_WRITE:
                    error = follower.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if error:
                        finish(follower, "refused_connect" if error in (errno.EAGAIN, errno.ECONNREFUSED)
                               else f"broken:connect {errno.errorcode.get(error, error)}")
                        continue
                    if follower.silent:
                        follower.state = "silent"
                        selector.modify(follower.sock, selectors.EVENT_READ, follower)
                        continue
                    try:
                        follower.sock.send(b"GET /v1/events?follow=1&after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    except OSError as error:
                        finish(follower, "closed_clean" if error.errno == errno.EPIPE
                               else f"broken:send {errno.errorcode.get(error.errno, error.errno)}")
                        continue
                    follower.state = "sent"
                    selector.modify(follower.sock, selectors.EVENT_READ, follower)
                elif events & selectors.EVENT_READ:
                    try:
                        chunk = follower.sock.recv(65536)
                    except OSError as error:
                        finish(follower, f"broken:recv {errno.errorcode.get(error.errno, error.errno)}")
                        continue
                    if not chunk:
                        eof(follower)
                        continue
                    follower.buffer += chunk
                    parse(follower)

    def finish(follower, state):
        follower.state = state
        try:
            selector.unregister(follower.sock)
        except (KeyError, ValueError):
            pass
        follower.sock.close()

    def eof(follower):
        if follower.state in ("sent", "silent") and not follower.buffer:
            finish(follower, "closed_clean")
        elif follower.state == "refusing":
            parse(follower, at_eof=True)
        elif follower.state == "admitted":
            finish(follower, "broken:admitted follower closed by the daemon")
        else:
            finish(follower, "broken:closed mid-answer")

    def parse(follower, at_eof=False):
        if follower.state in ("sent", "refusing"):
            if HEAD_END not in follower.buffer:
                return
            head, _, rest = follower.buffer.partition(HEAD_END)
            if head.startswith(b"HTTP/1.1 200"):
                follower.state = "admitted"
                # The follow stream is chunked: chunk sizes and NDJSON lines; only lines that parse as events count.
                follower.buffer = rest
            elif head.startswith(b"HTTP/1.1 503"):
                follower.state = "refusing"
                if not at_eof:
                    return
                try:
                    code = json.loads(rest)["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = None
                finish(follower, "refused_503" if code == "too_many_connections" else f"broken:503 body {rest[:80]!r}")
                return
            else:
                finish(follower, f"broken:head {head[:60]!r}")
                return
        if follower.state == "admitted":
            *lines, follower.buffer = follower.buffer.split(b"\n")
            for line in lines:
                line = line.strip()
                if line.startswith(b"{"):
                    follower.seqs.append(json.loads(line)["seq"])

    def connect_all(clients, batch):
        for client in clients:
            if client.index % batch == 0 and client is not clients[0]:
                pump(0.2)  # a burst of `batch` connects at a time: past the kernel's backlog, connect() is refused
            try:
                client.sock.connect(args.socket)
            except OSError as error:
                if error.errno == errno.EINPROGRESS:
                    selector.register(client.sock, selectors.EVENT_WRITE, client)
                    continue
                # The kernel's backlog is full: the client is told at once, which is a clean refusal.
                client.state = "refused_connect" if error.errno in (errno.EAGAIN, errno.ECONNREFUSED) else \
                    f"broken:connect {errno.errorcode.get(error.errno, error.errno)}"
                client.sock.close()
                continue
            selector.register(client.sock, selectors.EVENT_WRITE, client)

    # The flood: connections opened `batch` at a time, non-blocking, each sending its follow request.
    connect_all(followers, args.batch)

    # Everyone gets an answer, the jobs run while the followers wait.
    pump(args.hold)
    # Clients that connect and send nothing: each refused one holds a descriptor until the daemon closes it, so a
    # burst of them drives the daemon to its open-file limit (accept() and Kinsta calls meet EMFILE meanwhile).
    silent = [Follower(args.followers + i, silent=True) for i in range(args.silent)]
    connect_all(silent, batch=len(silent) or 1)
    started = time.monotonic()
    while any(c.state in ("connecting", "silent") for c in silent) and time.monotonic() - started < 10:
        pump(0.25)
    if silent:
        figures["silent_all_closed_s"] = time.monotonic() - started
    followers += silent
    undecided = [f for f in followers if f.state in ("connecting", "sent", "refusing", "silent")]
    if undecided:
        pump(3)
        undecided = [f for f in followers if f.state in ("connecting", "sent", "refusing", "silent")]
    admitted = [f for f in followers if f.state == "admitted"]
    figures["admitted"] = len(admitted)
    figures["rss_during_mb"] = rss_kb(pid) / 1024
    figures["anon_during_mb"] = rss_kb(pid, "RssAnon") / 1024
    ticks = cpu_ticks(pid)
    pump(2)
    figures["cpu_idle_followers_pct"] = (cpu_ticks(pid) - ticks) / os.sysconf("SC_CLK_TCK") / 2 * 100
    if admitted:
        figures["kb_per_follower"] = (figures["anon_during_mb"] - figures["anon_start_mb"]) * 1024 / len(admitted)

    # Half the admitted ones leave; the places they free serve new submissions.
    leaving = admitted[: len(admitted) // 2]
    for follower in leaving:
        finish(follower, "left")
    staying = admitted[len(leaving):]
    submit(args.jobs, "b")
    deadline = time.monotonic() + args.job_seconds
    pending = list(jobs)
    while pending and time.monotonic() < deadline:
        pump(0.3)
        still = []
        for job in pending:
            status, answer = exchange(args.socket, "GET", f"/v1/jobs/{job}")
            if status == 200 and answer["state"] in ("succeeded", "failed", "timed_out", "cancelled", "abandoned"):
                if answer["state"] != "succeeded":
                    problems.append(f"job {job} ended {answer['state']}")
            else:
                still.append(job)
        pending = still
    if pending:
        problems.append(f"{len(pending)} jobs not finished after {args.job_seconds} s")
    status, history = 0, None
    for _ in range(20):
        pump(0.2)
        status, _ = exchange(args.socket, "GET", "/v1/health")
        if status == 200:
            break
    last_seq = 0
    raw = None
    for _ in range(20):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        try:
            sock.connect(args.socket)
            sock.sendall(b"GET /v1/events?tail=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        except OSError:
            raw = None
        finally:
            sock.close()
        if raw and raw.startswith(b"HTTP/1.1 200"):
            break
        time.sleep(0.1)
    if raw:
        lines = [line for line in raw.partition(HEAD_END)[2].split(b"\n") if line.startswith(b"{")]
        if lines:
            last_seq = json.loads(lines[-1])["seq"]
    pump(1)
    figures["last_seq"] = last_seq
    gaps = 0
    for follower in leaving + staying:
        expected_end = last_seq if follower in staying else (follower.seqs[-1] if follower.seqs else 0)
        if follower.seqs != list(range(1, expected_end + 1)):
            gaps += 1
            if gaps <= 3:
                problems.append(f"follower {follower.index} saw seqs {follower.seqs[:5]}…{follower.seqs[-5:]} "
                                f"(expected 1…{expected_end})")
    if gaps:
        problems.append(f"{gaps} followers saw a gap or a repeat")
    broken_while_held = [f for f in staying if f.state != "admitted"]
    for follower in staying:
        finish(follower, "left")

    # Everyone has left: the count falls back, memory comes back.
    connections = None
    for _ in range(50):
        status, health = exchange(args.socket, "GET", "/v1/health")
        if status == 200:
            connections = health["socket"]["connections"]
            if connections <= 1:
                break
        time.sleep(0.1)
    time.sleep(3)  # the daemon gives memory back 2 s after its last connection left
    figures["connections_after"] = connections
    figures["refused_total"] = health["socket"]["refused"] if health else None
    figures["rss_after_mb"] = rss_kb(pid) / 1024
    figures["anon_after_mb"] = rss_kb(pid, "RssAnon") / 1024

    outcomes = {}
    for follower in followers:
        state = follower.state if not follower.state.startswith("broken") else "broken"
        outcomes[state] = outcomes.get(state, 0) + 1
    figures["outcomes"] = outcomes
    broken = [f.state for f in followers if f.state.startswith("broken")]
    if broken:
        problems.append(f"{len(broken)} connections broken, e.g. {sorted(set(broken))[:3]}")
    if undecided:
        problems.append(f"{len(undecided)} connections got no answer in {args.hold + 3} s (a hang)")
    if broken_while_held:
        problems.append(f"{len(broken_while_held)} admitted followers lost their stream")
    if len(admitted) > cap:
        problems.append(f"{len(admitted)} followers admitted over a cap of {cap}")
    if args.followers > cap and len(admitted) < cap - 2 * args.jobs - 2:
        problems.append(f"only {len(admitted)} followers admitted under a cap of {cap}")
    if figures["cpu_idle_followers_pct"] > 50:
        problems.append(f"the daemon used {figures['cpu_idle_followers_pct']:.0f} % of a core with idle followers")
    if args.nofile and figures.get("max_fds", 0) >= args.nofile:
        problems.append(f"the daemon ran out of file descriptors ({figures['max_fds']} open, limit {args.nofile})")
    if connections is None or connections > 1:
        problems.append(f"connections after everyone left: {connections}")
    if figures["rss_after_mb"] > figures["rss_start_mb"] + args.rss_slack_mb:
        problems.append(f"RSS {figures['rss_after_mb']:.1f} MB after, {figures['rss_start_mb']:.1f} MB at the start")
    try:
        os.kill(pid, 0)
    except OSError:
        problems.append("the daemon died")

    print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))
    for problem in problems:
        print(f"  broken promise: {problem}")
    print("PASS" if not problems else "FAIL")
    return 0 if not problems else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--followers", type=int, default=300)
    parser.add_argument("--name", default="run", help="makes the jobs' display names unique to this run")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--nofile", type=int, default=0, help="the daemon's open-file limit, never to be reached")
    parser.add_argument("--silent", type=int, default=0, help="clients that connect and send nothing")
    parser.add_argument("--batch", type=int, default=100, help="connects sent at once before the daemon may accept")
    parser.add_argument("--hold", type=float, default=4)
    parser.add_argument("--job-seconds", type=float, default=25)
    parser.add_argument("--rss-slack-mb", type=float, default=15)
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()

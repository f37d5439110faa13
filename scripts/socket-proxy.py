#!/usr/bin/env python3
"""A loopback TCP to Unix-socket proxy for HTTP/1.1, for testers that cannot reach a Unix socket (scripts/api-fuzz.sh).

Listens on 127.0.0.1 (a free port, written to --port-file), opens one socket connection per client connection, and
passes each request and its answer through as they are, reading both far enough to know where each ends
(Content-Length or chunked). Every exchange is logged as one JSON line: method, target, status, and for a 201 the
job ID from the answer, so the caller can check that every job stored was answered 201.
"""
import argparse
import asyncio
import json
import os


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return head, lines[0], headers


async def read_body(reader, headers):
    """The body as it was sent (framing kept) and its decoded bytes."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raw, data = b"", b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            raw += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            chunk = await reader.readexactly(size + 2)
            raw += chunk
            data += chunk[:-2]
            if size == 0:
                return raw, data
    length = int(headers.get("content-length", "0") or "0")
    body = await reader.readexactly(length) if length else b""
    return body, body


async def serve(client_reader, client_writer, socket_path, log):
    try:
        daemon_reader, daemon_writer = await asyncio.open_unix_connection(socket_path)
    except OSError:
        client_writer.close()
        return
    try:
        while True:
            head, request_line, headers = await read_head(client_reader)
            raw, _ = await read_body(client_reader, headers)
            daemon_writer.write(head + raw)
            await daemon_writer.drain()
            answer_head, status_line, answer_headers = await read_head(daemon_reader)
            answer_raw, answer = await read_body(daemon_reader, answer_headers)
            client_writer.write(answer_head + answer_raw)
            await client_writer.drain()
            method, target = (request_line.split(" ") + ["", ""])[:2]
            status = int(status_line.split(" ")[1])
            entry = {"method": method, "target": target, "status": status}
            if status == 201:
                try:
                    entry["id"] = json.loads(answer)["id"]
                except (ValueError, KeyError, TypeError):
                    pass
            log.write(json.dumps(entry) + "\n")
            log.flush()
            if answer_headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError, IndexError):
        pass
    finally:
        for writer in (client_writer, daemon_writer):
            writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    with open(args.log, "a") as log:
        server = await asyncio.start_server(
            lambda r, w: serve(r, w, args.socket, log), "127.0.0.1", 0, limit=1 << 20
        )
        with open(args.port_file + ".tmp", "w") as out:
            out.write(str(server.sockets[0].getsockname()[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
        async with server:
            await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass

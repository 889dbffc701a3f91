#!/usr/bin/env python3
"""fakeserver.py: a scriptable HTTP/1.1 server for flowdb's tests.

Python 3 standard library only.  It stands in for any HTTP API the worker
talks to (a generic endpoint, Twilio, Razorpay, Slack, Graph, OpenAI...):
it answers from a script and records every request it receives.

Usage:
  fakeserver.py --port-file FILE [--script FILE] [--capture FILE]
                [--host 127.0.0.1] [--port 0] [--max-seconds 600]
                [--parent-pid PID]

The server listens on --host:--port (port 0 = a free one) and writes the
port it got to --port-file (atomically, once it accepts connections).  It
exits by itself after --max-seconds, on SIGTERM/SIGINT, or when
--parent-pid is given and that process is gone, so nothing is left running.

Script (JSON), either {"routes": {...}, "default": {...}} or just the routes
object.  A route key is "/path", "METHOD /path" or a shell-style pattern
("/users/*", "POST /v1/*"); the query string is not part of the path.  Its
value is a list of responses, consumed in order, the last one repeating:

  {"/pay": [{"status": 429, "headers": {"Retry-After": "1"}},
            {"status": 200, "body": {"id": "pay_1"}}]}

or an object {"responses": [...], "per_header": "Idempotency-Key"} to keep
one position in the list per value of a request header (per run and node
when the header is the Idempotency-Key) instead of one per route.

A response: {"status": 200, "headers": {...}, "body": <JSON value> | "text",
"delay_ms": 200, "hang": true, "echo": true, "body_bytes": N, "body_hex": "00ff",
"close": true}
  body        a string is sent as-is (text/plain unless a Content-Type header
              is given), anything else as JSON; absent = empty body
  delay_ms    wait before answering
  hang        never answer: hold the connection until the client gives up
  echo        body = the request as captured (with "json" when it parsed)
  body_bytes  body = N bytes of "x" (large responses)
  body_hex    body = these bytes, given in hex (binary responses)
  stream_bytes  body = N bytes of "x" sent chunked (Transfer-Encoding:
              chunked, no Content-Length) in chunks of "chunk_bytes" (16384);
              /_stats counts the bytes written ("streamed_bytes") and the
              streams the client cut short ("streams_aborted")
  close       close the connection after the response
  chat        an OpenAI chat.completion whose message content is this value
              (a string as-is, anything else as JSON text); with
              "require_schema": true a request without a strict
              response_format json_schema gets 400 instead, like a strict
              server
  chat_from_schema  the content is the smallest answer the request's own
              json_schema allows (first anyOf variant, first enum value,
              empty arrays, first non-null type), so the schema sent is
              what the answer follows
  refusal     an OpenAI chat.completion refusing with this text
Unknown paths get "default" (200 {"ok": true} unless the script says).

Capture: every request (not the control endpoints) is one JSON object
{"seq", "time" (unix float, on arrival), "method", "path", "query",
"headers" (lower-case names), "body" (text), "client" (peer port)}, and
for multipart/form-data bodies "multipart": {name: {"filename",
"content_type", "size", "sha256", "text" (UTF-8 fields only)}}
appended to --capture as a line (flushed at once) and kept in memory.

Control endpoints (never captured, never scripted):
  GET  /_requests   the captured requests, a JSON array
  GET  /_stats      {"requests", "inflight", "max_inflight", "connections",
                    "streamed_bytes", "streams_aborted"}
  POST /_script     replace the script (request body = script), reset positions
  GET  /_reset      forget captured requests, positions and stats (the
                    capture file is truncated too); the script stays
  GET  /_health     200 {"ok": true}
"""

import argparse
import fnmatch
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def parse_multipart(content_type, body):
    """The parts of a multipart/form-data body by field name."""
    import hashlib
    marker = "boundary="
    if marker not in content_type:
        return None
    boundary = content_type.split(marker, 1)[1].split(";", 1)[0].strip().strip('"')
    parts = {}
    delim = b"--" + boundary.encode()
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        info = {"filename": None, "content_type": None, "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
        name = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            low = line.lower()
            if low.startswith("content-disposition:"):
                for item in line.split(";")[1:]:
                    k, _, v = item.strip().partition("=")
                    v = v.strip('"')
                    if k == "name":
                        name = v
                    elif k == "filename":
                        info["filename"] = v
            elif low.startswith("content-type:"):
                info["content_type"] = line.split(":", 1)[1].strip()
        try:
            info["text"] = data.decode("utf-8")
        except UnicodeDecodeError:
            info["text"] = None
        if name is not None:
            parts[name] = info
    return parts


def schema_example(schema, depth=0):
    """The smallest value a (strict) JSON schema allows."""
    if depth > 40 or not isinstance(schema, dict):
        return None
    if "anyOf" in schema:
        return schema_example(schema["anyOf"][0], depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object":
        return {k: schema_example(v, depth + 1)
                for k, v in (schema.get("properties") or {}).items()}
    if t == "array":
        return []
    return {"string": "", "number": 0, "integer": 0, "boolean": False}.get(t)


def chat_completion(content=None, refusal=None):
    """An OpenAI chat.completion body."""
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": "fake-gpt",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content,
                                     "refusal": refusal}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def chat_response(resp, text):
    """(status, JSON body) for the chat / chat_from_schema / refusal kinds."""
    try:
        req = json.loads(text) if text else {}
    except ValueError:
        req = {}
    fmt = (req.get("response_format") or {}) if isinstance(req, dict) else {}
    js = fmt.get("json_schema") or {}
    if resp.get("require_schema") and not (fmt.get("type") == "json_schema"
                                           and js.get("strict") is True
                                           and isinstance(js.get("schema"), dict)):
        return 400, {"error": {"message": "response_format json_schema (strict) required",
                               "type": "invalid_request_error"}}
    if "refusal" in resp:
        return 200, chat_completion(None, resp["refusal"])
    if resp.get("chat_from_schema"):
        return 200, chat_completion(json.dumps(schema_example(js.get("schema"))))
    content = resp["chat"]
    return 200, chat_completion(content if isinstance(content, str) else json.dumps(content))


class State:
    """Everything shared by the handler threads, behind one lock."""

    def __init__(self, script, capture_path):
        self.lock = threading.Lock()
        self.capture_path = capture_path
        self.capture_file = open(capture_path, "a", encoding="utf-8") if capture_path else None
        self.requests = []
        self.seq = 0
        self.positions = {}
        self.inflight = 0
        self.max_inflight = 0
        self.connections = 0
        self.streamed_bytes = 0
        self.streams_aborted = 0
        self.stopping = threading.Event()
        self.set_script(script)

    # -- script ------------------------------------------------------------
    def set_script(self, script):
        if script is None:
            script = {}
        if not isinstance(script, dict):
            raise ValueError("script must be a JSON object")
        if "routes" in script or "default" in script:
            routes = script.get("routes") or {}
            default = script.get("default")
        else:
            routes, default = script, None
        if not isinstance(routes, dict):
            raise ValueError("routes must be an object")
        parsed = []
        for key, val in routes.items():
            per_header = None
            if isinstance(val, dict) and "responses" in val:
                per_header = val.get("per_header")
                val = val["responses"]
            elif isinstance(val, dict):
                val = [val]
            if not isinstance(val, list) or not val:
                raise ValueError("route %s: expected a non-empty list of responses" % key)
            for r in val:
                if not isinstance(r, dict):
                    raise ValueError("route %s: each response must be an object" % key)
            method, _, pattern = key.partition(" ") if " " in key else ("", "", key)
            parsed.append({"key": key, "method": method.upper(), "pattern": pattern,
                           "responses": val,
                           "per_header": per_header.lower() if per_header else None})
        with self.lock:
            self.routes = parsed
            self.default = default if isinstance(default, dict) else {"status": 200, "body": {"ok": True}}
            self.positions = {}

    def pick(self, method, path, headers):
        """The scripted response for a request (advances the route's position)."""
        with self.lock:
            route = None
            # exact paths before patterns; method-specific keys before others
            for exact in (True, False):
                for want_method in (True, False):
                    for r in self.routes:
                        if bool(r["method"]) != want_method:
                            continue
                        if r["method"] and r["method"] != method:
                            continue
                        if (r["pattern"] == path) if exact else fnmatch.fnmatchcase(path, r["pattern"]):
                            route = r
                            break
                    if route:
                        break
                if route:
                    break
            if route is None:
                return self.default
            pos_key = route["key"]
            if route["per_header"]:
                pos_key += "\0" + headers.get(route["per_header"], "")
            i = self.positions.get(pos_key, 0)
            self.positions[pos_key] = i + 1
            lst = route["responses"]
            return lst[min(i, len(lst) - 1)]

    # -- capture -----------------------------------------------------------
    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.requests.append(entry)
            if self.capture_file:
                self.capture_file.write(json.dumps(entry, sort_keys=True) + "\n")
                self.capture_file.flush()

    def reset(self):
        with self.lock:
            self.requests = []
            self.positions = {}
            self.max_inflight = self.inflight
            self.connections = 0
            self.streamed_bytes = 0
            self.streams_aborted = 0
            if self.capture_file:
                self.capture_file.close()
                self.capture_file = open(self.capture_path, "w", encoding="utf-8")

    def enter(self):
        with self.lock:
            self.inflight += 1
            if self.inflight > self.max_inflight:
                self.max_inflight = self.inflight

    def leave(self):
        with self.lock:
            self.inflight -= 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "flowdb-fake/1.0"
    # after a response, wait this long for the next request on the connection
    timeout = 120

    # headers and body go out in separate writes: without TCP_NODELAY the
    # body waits for the client's delayed ACK (~40 ms per request)
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        with self.server.state.lock:
            self.server.state.connections += 1

    def log_message(self, fmt, *args):  # quiet: the capture is the log
        pass

    # every method goes through handle_any
    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until an empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=b"", headers=None, close=False):
        headers = dict(headers or {})
        names = {k.lower() for k in headers}
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, str(v))
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status, value):
        self.send(status, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def handle_any(self):
        state = self.server.state
        arrived = time.time()
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.send(400, b"bad request body", close=True)
            return
        parts = urlsplit(self.path)
        path = parts.path or "/"

        if path.startswith("/_"):
            self.control(path, body)
            return

        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        text = body.decode("utf-8", errors="replace")
        entry = {"time": arrived, "method": self.command, "path": path,
                 "query": parts.query, "headers": headers, "body": text,
                 "client": self.client_address[1]}
        ctype = headers.get("content-type", "")
        if ctype.lower().startswith("multipart/form-data"):
            entry["multipart"] = parse_multipart(ctype, body)
        state.enter()
        try:
            state.record(entry)
            resp = state.pick(self.command, path, headers)
            self.respond(resp, entry, text)
        finally:
            state.leave()

    def respond(self, resp, entry, text):
        state = self.server.state
        delay = float(resp.get("delay_ms") or 0) / 1000.0
        if delay > 0:
            state.stopping.wait(delay)
        if resp.get("hang"):
            self.hang()
            return
        status = int(resp.get("status", 200))
        headers = dict(resp.get("headers") or {})
        names = {k.lower() for k in headers}
        if "stream_bytes" in resp:
            self.stream(status, headers, int(resp["stream_bytes"]),
                        int(resp.get("chunk_bytes") or 16384))
            return
        if resp.get("echo"):
            echo = dict(entry)
            try:
                echo["json"] = json.loads(text) if text else None
            except ValueError:
                pass
            payload = json.dumps(echo).encode()
            ctype = "application/json"
        elif "chat" in resp or "chat_from_schema" in resp or "refusal" in resp:
            status, value = chat_response(resp, text)
            payload = json.dumps(value).encode()
            ctype = "application/json"
        elif "body_bytes" in resp:
            payload = b"x" * int(resp["body_bytes"])
            ctype = "text/plain"
        elif "body_hex" in resp:
            payload = bytes.fromhex(resp["body_hex"])
            ctype = "application/octet-stream"
        elif resp.get("body") is None:
            payload = b""
            ctype = None
        elif isinstance(resp["body"], str):
            payload = resp["body"].encode()
            ctype = "text/plain; charset=utf-8"
        else:
            payload = json.dumps(resp["body"]).encode()
            ctype = "application/json"
        if ctype and "content-type" not in names and payload:
            headers["Content-Type"] = ctype
        self.send(status, payload, headers, close=bool(resp.get("close")))

    def stream(self, status, headers, total, chunk):
        """total bytes of "x", chunked, without a Content-Length."""
        state = self.server.state
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, str(v))
        if "content-type" not in {k.lower() for k in headers}:
            self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        block = b"x" * chunk
        sent = 0
        try:
            while sent < total and not state.stopping.is_set():
                n = min(chunk, total - sent)
                self.wfile.write(b"%x\r\n" % n + block[:n] + b"\r\n")
                sent += n
                with state.lock:
                    state.streamed_bytes += n
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            with state.lock:
                state.streams_aborted += 1
            self.close_connection = True

    def hang(self):
        """Hold the connection without answering until the client closes it."""
        self.close_connection = True
        sock = self.connection
        state = self.server.state
        while not state.stopping.is_set():
            try:
                r, _, _ = select.select([sock], [], [], 0.2)
                if r:
                    data = sock.recv(4096, socket.MSG_PEEK)
                    if not data:
                        return
                    sock.recv(len(data))  # discard anything the client sends
            except OSError:
                return

    def control(self, path, body):
        state = self.server.state
        if path == "/_requests":
            with state.lock:
                reqs = list(state.requests)
            self.send_json(200, reqs)
        elif path == "/_stats":
            with state.lock:
                stats = {"requests": len(state.requests), "inflight": state.inflight,
                         "max_inflight": state.max_inflight,
                         "connections": state.connections,
                         "streamed_bytes": state.streamed_bytes,
                         "streams_aborted": state.streams_aborted}
            self.send_json(200, stats)
        elif path == "/_script" and self.command in ("POST", "PUT"):
            try:
                state.set_script(json.loads(body.decode() or "{}"))
            except ValueError as e:
                self.send_json(400, {"error": str(e)})
                return
            self.send_json(200, {"ok": True})
        elif path == "/_reset":
            state.reset()
            self.send_json(200, {"ok": True})
        elif path == "/_health":
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": "unknown control endpoint " + path})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def watchdog(state, max_seconds, parent_pid):
    """Exit after max_seconds, or when the parent is gone."""
    deadline = time.time() + max_seconds
    while time.time() < deadline:
        if parent_pid:
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
        time.sleep(0.5)
    state.stopping.set()
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description="scriptable fake HTTP server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--script")
    ap.add_argument("--capture")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--parent-pid", type=int, default=0)
    args = ap.parse_args()

    script = {}
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            script = json.load(f)
    state = State(script, args.capture)

    httpd = Server((args.host, args.port), Handler)
    httpd.state = state

    def stop(signum, frame):
        state.stopping.set()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=watchdog, args=(state, args.max_seconds, args.parent_pid),
                     daemon=True).start()

    port = httpd.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        state.stopping.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""server - the simulator's HTTP plumbing and main().

SimHandler serves one keep-alive connection: it reads each request (body by
Content-Length or chunked), sends /_sim/... to the control routes, and logs
every other request, takes the fault that matches it and lets that fault and
the API routes answer it.  SimServer is a threading HTTP server that shrugs
off clients that go away.  main() parses the command line, listens, writes
the port file and runs until SIGTERM or SIGINT.
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import api, control, faults
from .answers import Response
from .state import DEFAULT_API_KEY, SimState

CONNECTION_ERRORS = (BrokenPipeError, ConnectionResetError,
                     ConnectionAbortedError, socket.timeout, TimeoutError)


class BodyError(Exception):
    """BodyError: the request body could not be read (bad framing)."""


class SimHandler(BaseHTTPRequestHandler):
    """SimHandler answers one connection: API routes under /v1, control routes
    under /_sim, faults applied to API requests."""

    protocol_version = "HTTP/1.1"
    server_version = "agentphone-sim/1.0"
    sys_version = ""
    timeout = 300  # seconds an idle keep-alive connection is kept (idle_seconds)

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        pass  # no request log

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_OPTIONS(self):
        self._handle("OPTIONS")

    def _handle(self, method):
        self.sim = self.server.sim
        self._started_answer = False
        try:
            self._dispatch(method)
            # how long this connection may now sit idle before it is closed
            self.connection.settimeout(self.sim.idle_seconds)
        except CONNECTION_ERRORS:
            self.close_connection = True
        except Exception:  # a simulator bug: say so, answer 500 if still possible
            traceback.print_exc()
            self.close_connection = True
            if not self._started_answer:
                try:
                    self.send(Response(500, {"detail": "simulator error"}))
                except Exception:
                    pass

    # --- reading and writing ---------------------------------------------------

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BodyError("bad chunk size")
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            length = int(length)
            if length < 0:
                raise ValueError
        except ValueError:
            raise BodyError("bad Content-Length")
        data = self.rfile.read(length)
        if len(data) < length:
            raise ConnectionResetError("client closed while sending the body")
        return data

    def write(self, data):
        """write sends part of an answer whose head start_answer sent."""
        self._started_answer = True
        self.wfile.write(data)
        self.wfile.flush()

    def start_answer(self, status, content_type, length, headers):
        """start_answer writes the status line and headers."""
        self._started_answer = True
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in headers:
            self.send_header(name, str(value))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def send(self, resp):
        """send writes a whole Response."""
        status = resp.status
        no_body = status < 200 or status in (204, 304)
        body = b"" if no_body else resp.body
        self.start_answer(status, None if no_body else resp.content_type,
                          None if no_body else len(body), resp.headers)
        if self.command == "HEAD" or not body:
            self.wfile.flush()
            return
        self.write(body)

    # --- dispatch --------------------------------------------------------------

    def _dispatch(self, method):
        url = urlsplit(self.path)
        path = url.path
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            raw = self._read_body()
        except BodyError as exc:
            self.close_connection = True
            self.send(Response(400, {"detail": str(exc)}))
            return
        if path == "/_sim" or path.startswith("/_sim/"):
            self.send(control.handle(self.sim, method, path, query, raw))
            return

        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = headers[name] + ", " + value if name in headers else value
        logged_body = None
        if raw:
            try:
                logged_body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                logged_body = raw.decode("utf-8", "replace")
        entry = self.sim.log_request(method, path, query, headers, logged_body)
        # the client's address and port: one port per connection, so reuse shows
        self.sim.set_entry(entry, client="%s:%d" % self.client_address[:2])
        fault = faults.take(self.sim, method, path)
        self.sim.set_entry(entry, fault=fault["kind"] if fault else None)
        faults.serve(self, self.sim, fault, entry, lambda: api.handle(
            self.sim, method, path, query, raw, entry, self, self.headers.get("Authorization")))


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many parallel clients must not wait on a short backlog

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, CONNECTION_ERRORS):
            return
        super().handle_error(request, client_address)


def write_port_file(path, port):
    """write_port_file writes the port atomically: a temporary file, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Offline AgentPhone API simulator.")
    parser.add_argument("--port", type=int, required=True, help="port, 0 = any free port")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--port-file", help="write the listening port to this file")
    parser.add_argument("--quiet", action="store_true",
                        help="no request log (there is none: accepted for the callers)")
    args = parser.parse_args(argv)

    host = "127.0.0.1"
    server = SimServer((host, args.port), SimHandler)
    server.sim = SimState(args.api_key)
    port = server.server_address[1]
    server.sim.base_url = "http://%s:%d" % (host, port)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="serve", daemon=True)
    thread.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    print("agentphone simulator listening on %s/v1" % server.sim.base_url, flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0

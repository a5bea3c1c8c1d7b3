#!/usr/bin/env python3
"""agentphone_sim.py - an offline simulator of the AgentPhone calls REST API.

The agentphone extension places AI phone calls through the AgentPhone REST API
(https://api.agentphone.ai/v1).  Tests cannot reach that service, so this
program serves the same calls endpoints from memory, on one local port, and adds
a small control API through which a test scripts how calls progress, injects
faults, and reads back every request it made.  Python 3.11 standard library
only.

Run it
------
    python3 test/agentphone_sim.py --port 0 --port-file /tmp/sim.port
    # prints: agentphone simulator listening on http://127.0.0.1:PORT/v1

Options: --port N (0 = pick a free port), --host (default 127.0.0.1),
--api-key (default sk_test_agentphone), --port-file PATH (the port number is
written there atomically once listening), --heartbeat-seconds S (SSE heartbeat,
default 15), --quiet (no per-request log; this is also the default), --verbose
(log each request to stderr).  SIGTERM or SIGINT stop it cleanly (exit 0).
Connections are HTTP/1.1 keep-alive; every answer but SSE has Content-Length.

The API (base /v1, "Authorization: Bearer KEY" on every route but /recording)
-------------------------------------------------------------------------------
    GET  /v1/calls                          list: limit (1..100, default 20), offset,
                                            status, direction, type (pstn|web), search
    POST /v1/calls                          create an outbound call (200, status in-progress)
    POST /v1/calls/web                      create a web call -> {accessToken, callId}
    GET  /v1/calls/{id}[?wait=true&timeout=S]   call with transcripts (long-poll optional)
    POST /v1/calls/{id}/end                 live -> 200 status "ending", then completed; else 409
    GET  /v1/calls/{id}/transcript          {callId, status, transcript:[{role,content,createdAt}]}
    GET  /v1/calls/{id}/transcript/stream   SSE: connected, turn..., ended (+ ": heartbeat")
    GET  /v1/calls/{id}/recording           audio/wav once ended (no auth)
    GET  /v1/numbers/{num}/calls            list calls of one number (limit, offset)
    GET  /v1/agents/{agt}/calls             list calls of one agent (limit, offset)
    GET  /v1/agents                         list agents (limit, offset) with their "numbers"
                                            (or "phoneNumbers", the stale shape, by config)
Errors are FastAPI style ({"detail": "..."} and 422 {"detail": [{loc,msg,type}]})
unless the control API switches them to the envelope
{"error": {"message", "code", "type"}}.  Unknown numbers always answer the envelope.

Fixtures (restored by every reset): agent agt_1 owns num_1 (+14155550001) and
num_2 (+14155550002); agt_2 owns num_3 (+442071230003); agt_nonum owns none.

Call lifecycle
--------------
Each created call takes the next queued script (FIFO), else the default script:
    {"outcome": "completed", "turns": [{"role": "agent"|"user", "content": "..."}],
     "turn_interval": 0.2, "duration_seconds": null, "hold": false}
Keys a queued script leaves out are taken from the default script.  The call is
in-progress from creation; one turn is added every turn_interval seconds; after
the last turn (or one interval if there are none) the call ends with status
`outcome`, endedAt set and durationSeconds = duration_seconds or the elapsed
seconds (at least 1).  "hold": true keeps it in-progress after its turns until
it is ended through /v1/calls/{id}/end or /_sim/calls/{id}/finish.  The
recording is available once the call has ended, unless disableRecording.

Control API (no auth, JSON in and out, same port)
-------------------------------------------------
    POST   /_sim/reset                  forget everything, restore fixtures and settings
    GET    /_sim/config                 current settings
    POST   /_sim/config                 set any of: api_key, error_shape ("detail"|"envelope"),
                                        transcript_shape (1|2|3), heartbeat_seconds,
                                        idle_seconds (300: an idle keep-alive connection
                                        is closed after that long),
                                        agents {agt: {"name", "numbers": {num: "+1..."}}},
                                        default_script, web_call_id (bool) -> settings
    POST   /_sim/script                 {"scripts": [script, ...]} queue for next calls -> {"queued": n}
    GET    /_sim/script, DELETE /_sim/script   list / clear the queue
    POST   /_sim/faults                 {"faults": [fault, ...]} append -> {"pending": n}
    GET    /_sim/faults, DELETE /_sim/faults   list / clear
    GET    /_sim/requests[?method=&path=&since=SEQ]   API requests since reset, in order
                                        (each: seq, time, method, path, query, headers,
                                        body, status, fault, call_id, client "ip:port")
    GET    /_sim/requests/count[?method=&path=]       {"count": n}
    DELETE /_sim/requests               clear the request log only
    GET    /_sim/calls, /_sim/calls/{id}            calls with every stored field
                                        (request body under "request", turns under "turns")
    POST   /_sim/calls/{id}/finish      {"status": "completed", "turns": [...]} end a live call now
    POST   /_sim/calls/{id}/turn        {"role", "content"} append a live turn
    POST   /_sim/create_calls           {"count", "status", "agentId", "toNumber", "fromNumber",
                                        "fromNumberId", "direction", "durationSeconds" (30),
                                        "turns", "disableRecording", "startedAt" (default now)}
                                        bulk-create, no log entry, no script -> {"ids": [...]}
                                        oldest first; "{i}" in toNumber/fromNumber becomes the
                                        index; ended statuses get endedAt = startedAt + duration

A fault is {"method": "POST", "path": "/v1/calls" (exact, or a prefix ending in
"*"; method and path may be omitted or "*" to match anything), "count": 1
(-1 = forever), "skip": 0 (matching requests let through before it applies),
"kind": ...}.  Each API request takes the first matching fault:
    status     {"status": 429, "body": {...}|"text", "headers": {...}, "content_type"}
               answer this instead of handling the request
    delay      {"seconds": S}  sleep, then handle normally
    drop       read the request, close the connection without an answer
    drop_after handle normally (a call is created), close without an answer
    malformed  {"status": 200} handle normally, answer a truncated JSON body
    body       {"status": 200, "body": "raw"|JSON value, "content_type", "headers"} answer this
    drip       {"bytes_per_second": 10} handle normally, send the body slowly
    huge       {"status": 200, "size": 10485760} answer a valid JSON object of that size
"""

import argparse
import copy
import hashlib
import json
import math
import os
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_API_KEY = "sk_test_agentphone"
E164_RE = re.compile(r"^\+[1-9]\d{1,14}$")
MODEL_TIERS = ("turbo", "balanced", "max")
# Statuses of a call that has not ended yet (endedAt stays null).
UNENDED_STATUSES = ("in-progress", "ending", "queued", "ringing", "initiated")
FAULT_KINDS = ("status", "delay", "drop", "drop_after", "malformed", "body",
               "drip", "huge")
CONNECTION_ERRORS = (BrokenPipeError, ConnectionResetError,
                     ConnectionAbortedError, socket.timeout, TimeoutError)

DEFAULT_SCRIPT = {
    "outcome": "completed",
    "turns": [
        {"role": "agent", "content": "Hello, this is a call from agentphone."},
        {"role": "user", "content": "Hi, thanks for calling."},
        {"role": "agent", "content": "Goodbye."},
    ],
    "turn_interval": 0.2,
    "duration_seconds": None,
    "hold": False,
}

# Default message, envelope code and envelope type per HTTP status.
STATUS_ERRORS = {
    400: ("Bad request", "BAD_REQUEST", "invalid_request_error"),
    401: ("Invalid or missing API key", "UNAUTHORIZED", "authentication_error"),
    402: ("Insufficient balance", "INSUFFICIENT_BALANCE", "payment_required"),
    403: ("Forbidden", "FORBIDDEN", "permission_error"),
    404: ("Not Found", "NOT_FOUND", "not_found"),
    405: ("Method Not Allowed", "METHOD_NOT_ALLOWED", "invalid_request_error"),
    408: ("Request timeout", "REQUEST_TIMEOUT", "api_error"),
    409: ("Conflict", "CONFLICT", "conflict"),
    422: ("Validation error", "VALIDATION_ERROR", "validation_error"),
    429: ("Rate limit exceeded", "RATE_LIMIT_EXCEEDED", "rate_limit_error"),
    500: ("Internal server error", "INTERNAL_ERROR", "api_error"),
    502: ("Carrier error", "CARRIER_ERROR", "carrier_error"),
    503: ("Service unavailable", "SERVICE_UNAVAILABLE", "api_error"),
    504: ("Gateway timeout", "GATEWAY_TIMEOUT", "api_error"),
}


def default_agents():
    """default_agents returns the fixture agents and their numbers."""
    return {
        "agt_1": {"name": "Support Agent",
                  "numbers": {"num_1": "+14155550001", "num_2": "+14155550002"}},
        "agt_2": {"name": "London Agent", "numbers": {"num_3": "+442071230003"}},
        "agt_nonum": {"name": "Agent Without Number", "numbers": {}},
    }


def iso(ts):
    """iso formats a unix time as YYYY-MM-DDTHH:MM:SS.mmmZ (UTC)."""
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def dumps(obj):
    """dumps encodes JSON compactly, as FastAPI does."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def status_error_defaults(status):
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return ("Server error", "INTERNAL_ERROR", "api_error")
    return ("Request failed", "ERROR", "invalid_request_error")


def make_wav(call_id):
    """make_wav returns 0.5 s of 8 kHz 16-bit mono audio: a quiet tone whose pitch
    depends on the call id, so the bytes are the same on every download."""
    rate, nsamples = 8000, 4000
    digest = hashlib.sha256(call_id.encode("utf-8")).digest()
    freq = 300 + ((digest[0] << 8) | digest[1]) % 600
    samples = [int(3000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(nsamples)]
    data = struct.pack("<%dh" % nsamples, *samples)
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE",
                         b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16, b"data", len(data))
    return header + data


def pair_turns(call):
    """pair_turns builds the TranscriptTurn list of a call: each user turn with the
    agent turn that follows it; an agent turn without a preceding unanswered user
    turn becomes an entry with an empty transcript."""
    entries = []
    current = None
    for turn in call["turns"]:
        if turn["role"] == "user":
            current = {"transcript": turn["content"], "response": None,
                       "createdAt": turn["createdAt"]}
            entries.append(current)
        elif current is not None and current["response"] is None:
            current["response"] = turn["content"]
        else:
            current = {"transcript": "", "response": turn["content"],
                       "createdAt": turn["createdAt"]}
            entries.append(current)
    out = []
    for index, entry in enumerate(entries):
        tr_id = "tr_" + hashlib.sha1(("%s:%d" % (call["id"], index)).encode()).hexdigest()[:24]
        out.append({"id": tr_id, "transcript": entry["transcript"],
                    "response": entry["response"], "confidence": 0.95,
                    "createdAt": entry["createdAt"]})
    return out


def path_matches(pattern, path):
    """path_matches tells whether a fault or log filter path matches a request path:
    exact, or a prefix when the pattern ends in "*"."""
    if pattern in (None, "", "*"):
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


def method_matches(pattern, method):
    return pattern in (None, "", "*") or pattern.upper() == method.upper()


class ControlError(Exception):
    """ControlError rejects a malformed control API request (answered 400)."""


def normalize_script(script, base):
    """normalize_script validates a script object and fills missing keys from base."""
    if not isinstance(script, dict):
        raise ControlError("a script must be a JSON object")
    out = copy.deepcopy(base)
    for key, value in script.items():
        if key == "outcome":
            if not isinstance(value, str) or not value:
                raise ControlError("script outcome must be a non-empty string")
        elif key == "turns":
            value = normalize_turns(value)
        elif key == "turn_interval":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ControlError("script turn_interval must be a number >= 0")
            value = float(value)
        elif key == "duration_seconds":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ControlError("script duration_seconds must be an integer >= 0 or null")
        elif key == "hold":
            if not isinstance(value, bool):
                raise ControlError("script hold must be a boolean")
        else:
            raise ControlError("unknown script key %r" % key)
        out[key] = value
    return out


def normalize_turns(turns):
    if not isinstance(turns, list):
        raise ControlError("turns must be a list")
    out = []
    for turn in turns:
        if (not isinstance(turn, dict) or turn.get("role") not in ("agent", "user")
                or not isinstance(turn.get("content"), str)):
            raise ControlError('each turn must be {"role": "agent"|"user", "content": "..."}')
        out.append({"role": turn["role"], "content": turn["content"]})
    return out


def normalize_fault(fault):
    """normalize_fault validates one fault object of POST /_sim/faults."""
    if not isinstance(fault, dict):
        raise ControlError("a fault must be a JSON object")
    kind = fault.get("kind")
    if kind not in FAULT_KINDS:
        raise ControlError("fault kind must be one of %s" % ", ".join(FAULT_KINDS))
    out = copy.deepcopy(fault)
    for key in ("method", "path"):
        if out.get(key) is not None and not isinstance(out[key], str):
            raise ControlError("fault %s must be a string" % key)
    count = out.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count == 0 or count < -1:
        raise ControlError("fault count must be a positive integer or -1 (forever)")
    out["count"] = count
    skip = out.get("skip", 0)
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise ControlError("fault skip must be an integer >= 0")
    out["skip"] = skip
    status = out.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)
                               or not 100 <= status <= 599):
        raise ControlError("fault status must be an HTTP status code")
    if kind == "status" and status is None:
        raise ControlError("a status fault needs a status")
    if "headers" in out and not isinstance(out["headers"], dict):
        raise ControlError("fault headers must be an object")
    for key in ("seconds", "bytes_per_second", "size"):
        if key in out and (isinstance(out[key], bool) or not isinstance(out[key], (int, float))
                           or out[key] < 0):
            raise ControlError("fault %s must be a number >= 0" % key)
    if kind == "drip" and out.get("bytes_per_second", 10) <= 0:
        raise ControlError("fault bytes_per_second must be > 0")
    return out


class SimState:
    """SimState holds everything the simulator knows, behind one lock (self.lock);
    self.cond (on the same lock) is notified whenever a call changes."""

    def __init__(self, api_key, heartbeat_seconds=15.0):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.initial_api_key = api_key
        self.initial_heartbeat = heartbeat_seconds
        self.base_url = "http://127.0.0.1"
        self.generation = 0
        with self.lock:
            self.reset_locked()

    def reset_locked(self):
        self.generation += 1
        self.calls = {}
        self.call_seq = 0
        self.requests = []
        self.request_seq = 0
        self.faults = []
        self.scripts = []
        self.agents = default_agents()
        self.api_key = self.initial_api_key
        self.error_shape = "detail"
        self.transcript_shape = 1
        self.heartbeat_seconds = self.initial_heartbeat
        self.idle_seconds = 300.0
        self.default_script = copy.deepcopy(DEFAULT_SCRIPT)
        self.web_call_id = True
        self.agents_list = "numbers"
        self.cond.notify_all()

    def config_locked(self):
        return {"api_key": self.api_key, "error_shape": self.error_shape,
                "transcript_shape": self.transcript_shape,
                "heartbeat_seconds": self.heartbeat_seconds,
                "idle_seconds": self.idle_seconds,
                "agents": copy.deepcopy(self.agents),
                "default_script": copy.deepcopy(self.default_script),
                "web_call_id": self.web_call_id, "agents_list": self.agents_list}

    def find_number_locked(self, number_id):
        for agent_id, agent in self.agents.items():
            if number_id in agent["numbers"]:
                return agent_id, agent["numbers"][number_id]
        return None

    def take_fault(self, method, path):
        """take_fault returns (a copy of) the first fault matching the request and
        uses up one of its count, or None."""
        with self.lock:
            for index, fault in enumerate(self.faults):
                if method_matches(fault.get("method"), method) and path_matches(fault.get("path"), path):
                    if fault["skip"] > 0:
                        fault["skip"] -= 1
                        return None
                    taken = copy.deepcopy(fault)
                    if fault["count"] > 0:
                        fault["count"] -= 1
                        if fault["count"] == 0:
                            del self.faults[index]
                    return taken
        return None

    def log_request(self, method, path, query, headers, body):
        with self.lock:
            self.request_seq += 1
            entry = {"seq": self.request_seq, "time": time.time(), "method": method,
                     "path": path, "query": query, "headers": headers, "body": body,
                     "status": None, "fault": None, "call_id": None, "client": None}
            self.requests.append(entry)
            return entry

    def set_entry(self, entry, **fields):
        with self.lock:
            entry.update(fields)

    def next_script_locked(self):
        if self.scripts:
            return self.scripts.pop(0)
        return copy.deepcopy(self.default_script)

    def new_call_locked(self, agent_id, direction, number_id, number, from_number,
                        to_number, request, script, disable_recording,
                        status="in-progress", started_ts=None):
        now = time.time()
        started_ts = now if started_ts is None else started_ts
        self.call_seq += 1
        call = {
            "id": "call_" + secrets.token_hex(12),
            "agentId": agent_id,
            "phoneNumberId": number_id,
            "phoneNumber": number,
            "fromNumber": from_number,
            "toNumber": to_number,
            "direction": direction,
            "status": status,
            "startedAt": iso(started_ts),
            "endedAt": None,
            "durationSeconds": None,
            "disableRecording": bool(disable_recording),
            "request": request,
            "script": script,
            "turns": [],
            "_seq": self.call_seq,
            "_started_ts": started_ts,
            "_generation": self.generation,
        }
        self.calls[call["id"]] = call
        self.cond.notify_all()
        return call

    def is_current_locked(self, call):
        return self.calls.get(call["id"]) is call

    def add_turn_locked(self, call, role, content):
        call["turns"].append({"role": role, "content": content, "createdAt": iso(time.time())})
        self.cond.notify_all()

    def end_call_locked(self, call, status):
        now = time.time()
        call["status"] = status
        call["endedAt"] = iso(now)
        script = call.get("script") or {}
        if script.get("duration_seconds") is not None:
            call["durationSeconds"] = int(script["duration_seconds"])
        else:
            call["durationSeconds"] = max(1, int(round(now - call["_started_ts"])))
        self.cond.notify_all()

    def start_script(self, call):
        """start_script runs the call's script on a daemon thread."""
        thread = threading.Thread(target=self._run_script, args=(call,),
                                  name="script-" + call["id"], daemon=True)
        thread.start()

    def _run_script(self, call):
        script = call["script"]
        interval = float(script.get("turn_interval", 0.2))
        for turn in script.get("turns", []):
            time.sleep(interval)
            with self.lock:
                if not self.is_current_locked(call) or call["status"] != "in-progress":
                    return
                self.add_turn_locked(call, turn["role"], turn["content"])
        if script.get("hold"):
            return
        if not script.get("turns"):
            time.sleep(interval)
        with self.lock:
            if self.is_current_locked(call) and call["status"] == "in-progress":
                self.end_call_locked(call, script.get("outcome", "completed"))

    def schedule_completion(self, call, delay=0.2):
        """schedule_completion turns an "ending" call into a completed one shortly."""
        def complete():
            time.sleep(delay)
            with self.lock:
                if self.is_current_locked(call) and call["status"] == "ending":
                    self.end_call_locked(call, "completed")
        threading.Thread(target=complete, name="end-" + call["id"], daemon=True).start()

    def wait_for_end(self, call, timeout):
        """wait_for_end blocks until the call has ended, was reset away, or timeout passes."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self.cond:
            while call["endedAt"] is None and self.is_current_locked(call):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)

    # --- views -------------------------------------------------------------

    def recording_available(self, call):
        return call["endedAt"] is not None and not call["disableRecording"]

    def call_view_locked(self, call, summary=False):
        """call_view_locked renders a call as the API shows it: the full call with
        transcripts, or (summary) the CallSummary of list answers."""
        view = {key: call[key] for key in (
            "id", "agentId", "phoneNumberId", "phoneNumber", "fromNumber", "toNumber",
            "direction", "status", "startedAt", "endedAt", "durationSeconds")}
        available = self.recording_available(call)
        view["recordingAvailable"] = available
        view["recordingUrl"] = ("%s/v1/calls/%s/recording" % (self.base_url, call["id"])
                                if available else None)
        if summary:
            view["lastTranscriptSnippet"] = call["turns"][-1]["content"] if call["turns"] else None
        else:
            view["transcripts"] = pair_turns(call)
        return view

    def create_view_locked(self, call):
        return {key: call[key] for key in (
            "id", "agentId", "phoneNumberId", "phoneNumber", "fromNumber", "toNumber",
            "direction", "status", "startedAt")}

    def sim_view_locked(self, call):
        view = {key: copy.deepcopy(value) for key, value in call.items()
                if not key.startswith("_")}
        view["recordingAvailable"] = self.recording_available(call)
        return view

    def sorted_calls_locked(self, predicate):
        calls = [c for c in self.calls.values() if predicate(c)]
        calls.sort(key=lambda c: (c["_started_ts"], c["_seq"]), reverse=True)
        return calls


class Response:
    """Response is what a route answers: status, JSON or raw body, extra headers."""

    def __init__(self, status, body=None, raw=None, content_type="application/json",
                 headers=None):
        self.status = status
        if raw is not None:
            self.body = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
        elif body is not None:
            self.body = dumps(body)
        else:
            self.body = b""
        self.content_type = content_type
        self.headers = list((headers or {}).items())


STREAMED = object()  # a route that wrote its answer itself (SSE) returns this

API_ROUTES = [
    ("GET", r"/v1/calls", "api_list_calls", True),
    ("POST", r"/v1/calls", "api_create_call", True),
    ("POST", r"/v1/calls/web", "api_create_web_call", True),
    ("GET", r"/v1/calls/(?P<call_id>[^/]+)", "api_get_call", True),
    ("POST", r"/v1/calls/(?P<call_id>[^/]+)/end", "api_end_call", True),
    ("GET", r"/v1/calls/(?P<call_id>[^/]+)/transcript", "api_transcript", True),
    ("GET", r"/v1/calls/(?P<call_id>[^/]+)/transcript/stream", "api_stream", True),
    ("GET", r"/v1/calls/(?P<call_id>[^/]+)/recording", "api_recording", False),
    ("GET", r"/v1/numbers/(?P<number_id>[^/]+)/calls", "api_number_calls", True),
    ("GET", r"/v1/agents/(?P<agent_id>[^/]+)/calls", "api_agent_calls", True),
    ("GET", r"/v1/agents", "api_list_agents", True),
]
API_ROUTES = [(m, re.compile(p), h, a) for m, p, h, a in API_ROUTES]

CONTROL_ROUTES = [
    ("POST", r"/_sim/reset", "ctl_reset"),
    ("GET", r"/_sim/config", "ctl_get_config"),
    ("POST", r"/_sim/config", "ctl_config"),
    ("GET", r"/_sim/script", "ctl_get_scripts"),
    ("POST", r"/_sim/script", "ctl_script"),
    ("DELETE", r"/_sim/script", "ctl_clear_scripts"),
    ("GET", r"/_sim/faults", "ctl_get_faults"),
    ("POST", r"/_sim/faults", "ctl_faults"),
    ("DELETE", r"/_sim/faults", "ctl_clear_faults"),
    ("GET", r"/_sim/requests", "ctl_requests"),
    ("DELETE", r"/_sim/requests", "ctl_clear_requests"),
    ("GET", r"/_sim/requests/count", "ctl_request_count"),
    ("GET", r"/_sim/calls", "ctl_calls"),
    ("GET", r"/_sim/calls/(?P<call_id>[^/]+)", "ctl_call"),
    ("POST", r"/_sim/calls/(?P<call_id>[^/]+)/finish", "ctl_finish"),
    ("POST", r"/_sim/calls/(?P<call_id>[^/]+)/turn", "ctl_turn"),
    ("POST", r"/_sim/create_calls", "ctl_create_calls"),
]
CONTROL_ROUTES = [(m, re.compile(p), h) for m, p, h in CONTROL_ROUTES]


def match_route(routes, method, path):
    """match_route returns (route, params) for a full match, (None, allowed methods)
    when only the path matches, or (None, None)."""
    allowed = []
    for route in routes:
        match = route[1].fullmatch(path)
        if match:
            if route[0] == method:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
            allowed.append(route[0])
    return None, (allowed or None)


class BodyError(Exception):
    """BodyError: the request body could not be read (bad framing)."""


class ValidationErrors(Exception):
    def __init__(self, errors):
        super().__init__("validation failed")
        self.errors = errors


class Validator:
    """Validator checks a JSON request body the way FastAPI + pydantic v2 would and
    collects {"loc", "msg", "type"} errors."""

    def __init__(self, raw):
        self.errors = []
        self.body = None
        if not raw.strip():
            raise ValidationErrors([{"loc": ["body"], "msg": "Field required", "type": "missing"}])
        try:
            self.body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            pos = getattr(exc, "pos", 0) or 0
            raise ValidationErrors([{"loc": ["body", pos], "msg": "JSON decode error",
                                     "type": "json_invalid"}])
        if not isinstance(self.body, dict):
            raise ValidationErrors([{
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "type": "model_attributes_type"}])

    def error(self, loc, msg, etype):
        self.errors.append({"loc": ["body"] + list(loc), "msg": msg, "type": etype})

    def string(self, name, required=False, max_length=None):
        if name not in self.body:
            if required:
                self.error([name], "Field required", "missing")
            return
        value = self.body[name]
        if value is None and not required:
            return
        if not isinstance(value, str):
            self.error([name], "Input should be a valid string", "string_type")
        elif max_length is not None and len(value) > max_length:
            self.error([name], "String should have at most %d characters" % max_length,
                       "string_too_long")

    def e164(self, name):
        value = self.body.get(name)
        if isinstance(value, str) and not E164_RE.match(value):
            self.error([name], "Value error, %s must be a phone number in E.164 format "
                       "(e.g. +14155551234)" % name, "value_error")

    def boolean(self, name):
        value = self.body.get(name)
        if value is not None and not isinstance(value, bool):
            self.error([name], "Input should be a valid boolean", "bool_type")

    def integer(self, name, minimum=None):
        value = self.body.get(name)
        if value is None:
            return
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error([name], "Input should be a valid integer", "int_type")
        elif minimum is not None and value < minimum:
            self.error([name], "Input should be greater than or equal to %d" % minimum,
                       "greater_than_equal")

    def dictionary(self, name):
        value = self.body.get(name)
        if value is not None and not isinstance(value, dict):
            self.error([name], "Input should be a valid dictionary", "dict_type")
            return False
        return value is not None

    def string_map(self, name):
        if self.dictionary(name):
            for key, value in self.body[name].items():
                if value is not None and not isinstance(value, str):
                    self.error([name, key], "Input should be a valid string", "string_type")

    def literal(self, name, choices):
        value = self.body.get(name)
        if value is not None and value not in choices:
            quoted = ["'%s'" % c for c in choices]
            self.error([name], "Input should be %s or %s" % (", ".join(quoted[:-1]), quoted[-1]),
                       "literal_error")

    def done(self):
        if self.errors:
            raise ValidationErrors(self.errors)
        return self.body


def query_int(query, name, default, minimum=None, maximum=None, errors=None):
    """query_int reads an integer query parameter, adding FastAPI-style errors."""
    if name not in query:
        return default
    text = query[name]
    try:
        value = int(text.strip())
    except ValueError:
        errors.append({"loc": ["query", name],
                       "msg": "Input should be a valid integer, unable to parse string as an integer",
                       "type": "int_parsing"})
        return default
    if minimum is not None and value < minimum:
        errors.append({"loc": ["query", name],
                       "msg": "Input should be greater than or equal to %d" % minimum,
                       "type": "greater_than_equal"})
    elif maximum is not None and value > maximum:
        errors.append({"loc": ["query", name],
                       "msg": "Input should be less than or equal to %d" % maximum,
                       "type": "less_than_equal"})
    return value


class SimHandler(BaseHTTPRequestHandler):
    """SimHandler answers one connection: API routes under /v1, control routes
    under /_sim, faults applied to API requests."""

    protocol_version = "HTTP/1.1"
    server_version = "agentphone-sim/1.0"
    sys_version = ""
    timeout = 300  # seconds an idle keep-alive connection is kept (idle_seconds)

    # --- plumbing ---------------------------------------------------------

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        if self.server.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

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
                    self._send(Response(500, {"detail": "simulator error"}))
                except Exception:
                    pass

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

    def _write(self, data):
        self._started_answer = True
        self.wfile.write(data)
        self.wfile.flush()

    def _start(self, status, content_type, length, headers):
        """_start writes the status line and headers."""
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

    def _send(self, resp, status=None, drip=None):
        """_send writes a whole Response, optionally dripping its body slowly."""
        status = resp.status if status is None else status
        no_body = status < 200 or status in (204, 304)
        body = b"" if no_body else resp.body
        self._start(status, None if no_body else resp.content_type,
                    None if no_body else len(body), resp.headers)
        if self.command == "HEAD" or not body:
            self.wfile.flush()
            return
        if drip:
            step = max(1, int(drip * 0.1))
            for offset in range(0, len(body), step):
                self._write(body[offset:offset + step])
                time.sleep(step / drip)
        else:
            self._write(body)

    def _error(self, status, message=None, code=None, etype=None):
        """_error answers an HTTPException in the current error shape."""
        default_message, default_code, default_type = status_error_defaults(status)
        message = default_message if message is None else message
        with self.sim.lock:
            shape = self.sim.error_shape
        if shape == "envelope":
            body = {"error": {"message": message, "code": code or default_code,
                              "type": etype or default_type}}
        else:
            body = {"detail": message}
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return Response(status, body, headers=headers)

    def _validation(self, errors):
        """_validation answers 422 in the current error shape."""
        with self.sim.lock:
            shape = self.sim.error_shape
        if shape == "envelope":
            details = [{"field": ".".join(str(p) for p in e["loc"][1:]) or e["loc"][0],
                        "message": e["msg"], "type": e["type"]} for e in errors]
            body = {"error": {"message": "Validation error", "code": "VALIDATION_ERROR",
                              "type": "validation_error", "details": details}}
        else:
            body = {"detail": errors}
        return Response(422, body)

    # --- dispatch ---------------------------------------------------------

    def _dispatch(self, method):
        url = urlsplit(self.path)
        path = url.path
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            raw = self._read_body()
        except BodyError as exc:
            self.close_connection = True
            self._send(Response(400, {"detail": str(exc)}))
            return
        if path == "/_sim" or path.startswith("/_sim/"):
            self._send(self._control(method, path, query, raw))
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
        fault = self.sim.take_fault(method, path)
        kind = fault["kind"] if fault else None
        self.sim.set_entry(entry, fault=kind)

        if kind == "delay":
            time.sleep(float(fault.get("seconds", 1)))
        elif kind == "drop":
            self.close_connection = True
            return
        elif kind in ("status", "body"):
            resp = self._fault_response(fault)
            self.sim.set_entry(entry, status=resp.status)
            self._send(resp)
            return
        elif kind == "huge":
            self._send_huge(fault, entry)
            return

        resp = self._api(method, path, query, raw, entry)
        if resp is STREAMED:
            return
        if kind == "drop_after":
            self.close_connection = True
            return
        if kind == "malformed":
            resp = Response(fault.get("status", 200), raw=b'{"id": "call_',
                            headers=fault.get("headers"))
        status = fault["status"] if kind == "drip" and fault.get("status") else resp.status
        self.sim.set_entry(entry, status=status)
        self._send(resp, status=status,
                   drip=float(fault.get("bytes_per_second", 10)) if kind == "drip" else None)

    def _fault_response(self, fault):
        status = fault.get("status", 200)
        headers = fault.get("headers")
        if "body" not in fault:
            if fault["kind"] == "body" or status < 400:
                return Response(status, {}, headers=headers)
            resp = self._error(status)
            resp.headers += list((headers or {}).items())
            return resp
        body = fault["body"]
        if isinstance(body, str):
            default_type = ("application/json" if fault["kind"] == "body"
                            else "text/plain; charset=utf-8")
            return Response(status, raw=body, headers=headers,
                            content_type=fault.get("content_type", default_type))
        return Response(status, body, headers=headers,
                        content_type=fault.get("content_type", "application/json"))

    def _send_huge(self, fault, entry):
        status = fault.get("status", 200)
        size = int(fault.get("size", 10 * 1024 * 1024))
        head, tail = b'{"data":"', b'"}'
        filler = max(0, size - len(head) - len(tail))
        total = len(head) + filler + len(tail)
        self.sim.set_entry(entry, status=status)
        self._start(status, fault.get("content_type", "application/json"), total,
                    list((fault.get("headers") or {}).items()))
        if self.command == "HEAD":
            return
        self._write(head)
        block = b"x" * 65536
        while filler > 0:
            self._write(block[:min(filler, len(block))])
            filler -= min(filler, len(block))
        self._write(tail)

    def _api(self, method, path, query, raw, entry):
        route_method = "GET" if method == "HEAD" else method
        route, params = match_route(API_ROUTES, route_method, path)
        if route is None:
            if params:
                resp = self._error(405, "Method Not Allowed")
                resp.headers.append(("Allow", ", ".join(sorted(set(params)))))
            else:
                resp = self._error(404, "Not Found")
            return resp
        _, _, handler_name, needs_auth = route
        if needs_auth and not self._authorized():
            return self._error(401, "Invalid or missing API key")
        try:
            return getattr(self, handler_name)(params, query, raw, entry)
        except ValidationErrors as exc:
            return self._validation(exc.errors)

    def _authorized(self):
        value = self.headers.get("Authorization", "")
        parts = value.split(None, 1)
        with self.sim.lock:
            key = self.sim.api_key
        return len(parts) == 2 and parts[0].lower() == "bearer" and parts[1].strip() == key

    # --- API routes -------------------------------------------------------

    def _list(self, query, predicate, filters=True):
        errors = []
        limit = query_int(query, "limit", 20, 1, 100, errors)
        offset = query_int(query, "offset", 0, 0, None, errors)
        if filters:
            direction, ctype = query.get("direction"), query.get("type")
            if direction is not None and direction not in ("inbound", "outbound", "web"):
                errors.append({"loc": ["query", "direction"],
                               "msg": "Input should be 'inbound', 'outbound' or 'web'",
                               "type": "literal_error"})
            if ctype is not None and ctype not in ("pstn", "web"):
                errors.append({"loc": ["query", "type"], "msg": "Input should be 'pstn' or 'web'",
                               "type": "literal_error"})
        if errors:
            return self._validation(errors)

        def keep(call):
            if not predicate(call):
                return False
            if not filters:
                return True
            if query.get("status") and call["status"] != query["status"]:
                return False
            if query.get("direction") and call["direction"] != query["direction"]:
                return False
            if query.get("type") == "web" and call["direction"] != "web":
                return False
            if query.get("type") == "pstn" and call["direction"] == "web":
                return False
            search = query.get("search")
            if search:
                haystacks = [call["fromNumber"] or "", call["toNumber"] or ""]
                if not any(search.lower() in h.lower() for h in haystacks):
                    return False
            return True

        with self.sim.lock:
            calls = self.sim.sorted_calls_locked(keep)
            page = [self.sim.call_view_locked(c, summary=True) for c in calls[offset:offset + limit]]
        return Response(200, {"data": page, "hasMore": offset + len(page) < len(calls),
                              "total": len(calls)})

    def api_list_calls(self, params, query, raw, entry):
        return self._list(query, lambda c: True)

    def api_number_calls(self, params, query, raw, entry):
        number_id = params["number_id"]
        with self.sim.lock:
            known = self.sim.find_number_locked(number_id) is not None
        if not known:
            return Response(404, {"error": {"message": "Phone number not found",
                                            "code": "PHONE_NUMBER_NOT_FOUND",
                                            "type": "not_found"}})
        return self._list(query, lambda c: c["phoneNumberId"] == number_id, filters=False)

    def api_agent_calls(self, params, query, raw, entry):
        agent_id = params["agent_id"]
        with self.sim.lock:
            known = agent_id in self.sim.agents
        if not known:
            return self._error(404, "Agent not found", "AGENT_NOT_FOUND")
        return self._list(query, lambda c: c["agentId"] == agent_id, filters=False)

    def api_list_agents(self, params, query, raw, entry):
        errors = []
        limit = query_int(query, "limit", 20, 1, 100, errors)
        offset = query_int(query, "offset", 0, 0, None, errors)
        if errors:
            return self._validation(errors)
        with self.sim.lock:
            shape = self.sim.agents_list
            agents = sorted(copy.deepcopy(self.sim.agents).items())
        if shape == "off":
            return self._error(404, "Not Found", "NOT_FOUND")
        data = [{"id": agent_id, "name": agent.get("name"), "description": None,
                 "voiceMode": "webhook", "voice": "custom_voice_ea22ba5fdfaa18f39c274851c1",
                 "createdAt": "2026-01-01T00:00:00Z",
                 shape: [{"id": number_id, "phoneNumber": number, "status": "active", "type": "sms"}
                         for number_id, number in sorted(agent["numbers"].items())]}
                for agent_id, agent in agents]
        return Response(200, {"data": data[offset:offset + limit], "hasMore": offset + limit < len(data),
                              "total": len(data)})

    def api_create_call(self, params, query, raw, entry):
        v = Validator(raw)
        v.string("agentId", required=True)
        v.string("toNumber", required=True)
        v.e164("toNumber")
        v.string("fromNumberId")
        v.string("initialGreeting")
        v.string("voice")
        v.string("systemPrompt")
        v.string_map("variables")
        v.string("callScreeningIdentity", max_length=100)
        v.string("callScreeningPurpose", max_length=300)
        v.literal("modelTier", MODEL_TIERS)
        v.boolean("disableRecording")
        v.boolean("waitForCompletion")
        v.integer("maxWaitSeconds", minimum=0)
        body = v.done()

        with self.sim.lock:
            agent = self.sim.agents.get(body["agentId"])
            if agent is None:
                return self._error_locked(404, "Agent not found", "AGENT_NOT_FOUND")
            numbers = agent["numbers"]
            if not numbers:
                return self._error_locked(400, "Agent has no phone number assigned",
                                                  "AGENT_HAS_NO_NUMBER")
            number_id = body.get("fromNumberId")
            if number_id is None:
                number_id = next(iter(numbers))
            elif number_id not in numbers:
                return self._error_locked(
                    400, "Phone number %s is not assigned to this agent" % number_id,
                    "PHONE_NUMBER_NOT_ASSIGNED")
            number = numbers[number_id]
            call = self.sim.new_call_locked(
                body["agentId"], "outbound", number_id, number, number, body["toNumber"],
                copy.deepcopy(body), self.sim.next_script_locked(),
                body.get("disableRecording") or False)
            entry["call_id"] = call["id"]
            answer = self.sim.create_view_locked(call)
        self.sim.start_script(call)
        if body.get("waitForCompletion"):
            wait = body.get("maxWaitSeconds")
            self.sim.wait_for_end(call, 300 if wait is None else float(wait))
            with self.sim.lock:
                answer = self.sim.call_view_locked(call)
        return Response(200, answer)

    def _error_locked(self, status, message, code):
        """_error_locked is _error for callers that hold self.sim.lock."""
        shape = self.sim.error_shape
        if shape == "envelope":
            return Response(status, {"error": {"message": message, "code": code,
                                               "type": status_error_defaults(status)[2]}})
        return Response(status, {"detail": message})

    def api_create_web_call(self, params, query, raw, entry):
        v = Validator(raw)
        v.string("agentId", required=True)
        v.dictionary("metadata")
        v.string_map("variables")
        body = v.done()
        with self.sim.lock:
            if body["agentId"] not in self.sim.agents:
                return self._error_locked(404, "Agent not found", "AGENT_NOT_FOUND")
            call = self.sim.new_call_locked(
                body["agentId"], "web", None, None, None, None, copy.deepcopy(body),
                self.sim.next_script_locked(), False)
            token = secrets.token_urlsafe(32)
            call["accessToken"] = token
            call["accessTokenExpiresAt"] = iso(time.time() + 30)
            entry["call_id"] = call["id"]
            answer = {"accessToken": token}
            if self.sim.web_call_id:
                answer["callId"] = call["id"]
        self.sim.start_script(call)
        return Response(200, answer)

    def _lookup(self, call_id):
        with self.sim.lock:
            return self.sim.calls.get(call_id)

    def api_get_call(self, params, query, raw, entry):
        call = self._lookup(params["call_id"])
        if call is None:
            return self._error(404, "Call not found", "CALL_NOT_FOUND")
        if query.get("wait", "").lower() in ("true", "1", "yes"):
            errors = []
            try:
                timeout = float(query.get("timeout", "120"))
                if timeout < 0 or math.isnan(timeout):
                    raise ValueError
            except ValueError:
                errors.append({"loc": ["query", "timeout"],
                               "msg": "Input should be a valid number", "type": "float_parsing"})
            if errors:
                return self._validation(errors)
            self.sim.wait_for_end(call, timeout)
        with self.sim.lock:
            return Response(200, self.sim.call_view_locked(call))

    def api_end_call(self, params, query, raw, entry):
        with self.sim.lock:
            call = self.sim.calls.get(params["call_id"])
            if call is None:
                return self._error_locked(404, "Call not found", "CALL_NOT_FOUND")
            if call["status"] != "in-progress":
                return self._error_locked(409, "Call is not in progress",
                                                  "CALL_NOT_IN_PROGRESS")
            call["status"] = "ending"
            call["endRequestedAt"] = iso(time.time())
            self.sim.cond.notify_all()
            answer = self.sim.call_view_locked(call)
        self.sim.schedule_completion(call)
        return Response(200, answer)

    def api_transcript(self, params, query, raw, entry):
        with self.sim.lock:
            call = self.sim.calls.get(params["call_id"])
            if call is None:
                return self._error_locked(404, "Call not found", "CALL_NOT_FOUND")
            shape = self.sim.transcript_shape
            if shape == 2:
                return Response(200, {"data": pair_turns(call)})
            if shape == 3:
                return Response(200, {"transcripts": pair_turns(call)})
            return Response(200, {"callId": call["id"], "status": call["status"],
                                  "transcript": copy.deepcopy(call["turns"])})

    def api_recording(self, params, query, raw, entry):
        call = self._lookup(params["call_id"])
        if call is None:
            return self._error(404, "Call not found", "CALL_NOT_FOUND")
        with self.sim.lock:
            available = self.sim.recording_available(call)
        if not available:
            return self._error(404, "Recording not available", "RECORDING_NOT_FOUND")
        return Response(200, raw=make_wav(call["id"]), content_type="audio/wav", headers={
            "Content-Disposition": 'attachment; filename="recording-%s.wav"' % call["id"]})

    def api_stream(self, params, query, raw, entry):
        sim = self.sim
        with sim.lock:
            call = sim.calls.get(params["call_id"])
            if call is None:
                return self._error_locked(404, "Call not found", "CALL_NOT_FOUND")
            agent = sim.agents.get(call["agentId"]) if call["agentId"] else None
            connected = {"callId": call["id"], "status": call["status"],
                         "agentId": call["agentId"],
                         "agentName": agent["name"] if agent else None,
                         "direction": call["direction"], "fromNumber": call["fromNumber"],
                         "toNumber": call["toNumber"], "startedAt": call["startedAt"]}
            entry["status"] = 200
        self.close_connection = True
        self._start(200, "text/event-stream", None,
                    [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")])
        if self.command == "HEAD":
            return STREAMED

        def event(name, data):
            self._write(("event: %s\ndata: %s\n\n" % (name, dumps(data).decode("utf-8"))).encode("utf-8"))

        event("connected", connected)
        sent = 0
        with sim.lock:
            next_beat = time.monotonic() + sim.heartbeat_seconds
        while True:
            with sim.cond:
                while True:
                    gone = not sim.is_current_locked(call)
                    turns = copy.deepcopy(call["turns"][sent:])
                    ended = call["endedAt"] is not None
                    if gone or turns or ended:
                        break
                    remaining = next_beat - time.monotonic()
                    if remaining <= 0:
                        break
                    sim.cond.wait(remaining)
                final = {"callId": call["id"], "status": call["status"],
                         "endedAt": call["endedAt"], "durationSeconds": call["durationSeconds"]}
                heartbeat = sim.heartbeat_seconds
            if gone:
                return STREAMED
            for turn in turns:
                event("turn", {"role": turn["role"], "content": turn["content"],
                               "createdAt": turn["createdAt"]})
            sent += len(turns)
            if ended:
                event("ended", final)
                return STREAMED
            if time.monotonic() >= next_beat:
                self._write(b": heartbeat\n\n")
                next_beat = time.monotonic() + heartbeat

    # --- control routes ---------------------------------------------------

    def _control(self, method, path, query, raw):
        route, params = match_route(CONTROL_ROUTES, "GET" if method == "HEAD" else method, path)
        if route is None:
            if params:
                return Response(405, {"detail": "Method Not Allowed"},
                                headers={"Allow": ", ".join(sorted(set(params)))})
            return Response(404, {"detail": "Not Found"})
        body = {}
        if raw.strip():
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                return Response(400, {"detail": "control body is not valid JSON"})
            if not isinstance(body, dict):
                return Response(400, {"detail": "control body must be a JSON object"})
        try:
            with self.sim.lock:
                result = getattr(self, route[2])(params, query, body)
        except ControlError as exc:
            return Response(400, {"detail": str(exc)})
        return result if isinstance(result, Response) else Response(200, result)

    # Every ctl_* method runs with self.sim.lock held.

    def ctl_reset(self, params, query, body):
        self.sim.reset_locked()
        return {"ok": True}

    def ctl_get_config(self, params, query, body):
        return self.sim.config_locked()

    def ctl_config(self, params, query, body):
        sim = self.sim
        new = {}
        for key, value in body.items():
            if key == "api_key":
                if not isinstance(value, str) or not value:
                    raise ControlError("api_key must be a non-empty string")
            elif key == "error_shape":
                if value not in ("detail", "envelope"):
                    raise ControlError('error_shape must be "detail" or "envelope"')
            elif key == "transcript_shape":
                if value not in (1, 2, 3) or isinstance(value, bool):
                    raise ControlError("transcript_shape must be 1, 2 or 3")
            elif key in ("heartbeat_seconds", "idle_seconds"):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                    raise ControlError("%s must be a number > 0" % key)
                value = float(value)
            elif key == "agents":
                value = self._check_agents(value)
            elif key == "default_script":
                value = normalize_script(value, DEFAULT_SCRIPT)
            elif key == "web_call_id":
                if not isinstance(value, bool):
                    raise ControlError("web_call_id must be a boolean")
            elif key == "agents_list":
                if value not in ("numbers", "phoneNumbers", "off"):
                    raise ControlError("agents_list must be \"numbers\", \"phoneNumbers\" or \"off\"")
            else:
                raise ControlError("unknown config key %r" % key)
            new[key] = value
        for key, value in new.items():
            setattr(sim, key, value)
        sim.cond.notify_all()
        return sim.config_locked()

    @staticmethod
    def _check_agents(agents):
        if not isinstance(agents, dict):
            raise ControlError("agents must be an object {agent_id: {name, numbers}}")
        out, seen = {}, set()
        for agent_id, agent in agents.items():
            if not isinstance(agent, dict):
                raise ControlError("agent %s must be an object" % agent_id)
            numbers = agent.get("numbers", {})
            if not isinstance(numbers, dict):
                raise ControlError("numbers of %s must be an object {num_id: e164}" % agent_id)
            for number_id, number in numbers.items():
                if not isinstance(number, str):
                    raise ControlError("number %s must be a string" % number_id)
                if number_id in seen:
                    raise ControlError("number %s is assigned to two agents" % number_id)
                seen.add(number_id)
            name = agent.get("name", agent_id)
            out[agent_id] = {"name": name, "numbers": dict(numbers)}
        return out

    def ctl_get_scripts(self, params, query, body):
        return {"scripts": copy.deepcopy(self.sim.scripts)}

    def ctl_script(self, params, query, body):
        scripts = body.get("scripts")
        if not isinstance(scripts, list):
            raise ControlError('body must be {"scripts": [script, ...]}')
        normalized = [normalize_script(s, self.sim.default_script) for s in scripts]
        self.sim.scripts.extend(normalized)
        return {"queued": len(self.sim.scripts)}

    def ctl_clear_scripts(self, params, query, body):
        self.sim.scripts = []
        return {"queued": 0}

    def ctl_get_faults(self, params, query, body):
        return {"faults": copy.deepcopy(self.sim.faults)}

    def ctl_faults(self, params, query, body):
        faults = body.get("faults")
        if not isinstance(faults, list):
            raise ControlError('body must be {"faults": [fault, ...]}')
        normalized = [normalize_fault(f) for f in faults]
        self.sim.faults.extend(normalized)
        return {"pending": len(self.sim.faults)}

    def ctl_clear_faults(self, params, query, body):
        self.sim.faults = []
        return {"pending": 0}

    def _filtered_requests(self, query):
        method, path = query.get("method"), query.get("path")
        since = query.get("since")
        try:
            since = int(since) if since else 0
        except ValueError:
            raise ControlError("since must be an integer")
        return [r for r in self.sim.requests
                if r["seq"] > since and method_matches(method, r["method"])
                and path_matches(path, r["path"])]

    def ctl_requests(self, params, query, body):
        return Response(200, self._filtered_requests(query))

    def ctl_request_count(self, params, query, body):
        return {"count": len(self._filtered_requests(query))}

    def ctl_clear_requests(self, params, query, body):
        self.sim.requests = []
        return {"ok": True}

    def ctl_calls(self, params, query, body):
        calls = sorted(self.sim.calls.values(), key=lambda c: c["_seq"])
        return Response(200, [self.sim.sim_view_locked(c) for c in calls])

    def ctl_call(self, params, query, body):
        call = self.sim.calls.get(params["call_id"])
        if call is None:
            return Response(404, {"detail": "Call not found"})
        return self.sim.sim_view_locked(call)

    def ctl_finish(self, params, query, body):
        call = self.sim.calls.get(params["call_id"])
        if call is None:
            return Response(404, {"detail": "Call not found"})
        if call["endedAt"] is not None:
            return Response(409, {"detail": "Call already ended"})
        status = body.get("status", "completed")
        if not isinstance(status, str) or not status:
            raise ControlError("status must be a non-empty string")
        for turn in normalize_turns(body.get("turns", [])):
            self.sim.add_turn_locked(call, turn["role"], turn["content"])
        self.sim.end_call_locked(call, status)
        return self.sim.sim_view_locked(call)

    def ctl_turn(self, params, query, body):
        call = self.sim.calls.get(params["call_id"])
        if call is None:
            return Response(404, {"detail": "Call not found"})
        turn = normalize_turns([body])[0]
        self.sim.add_turn_locked(call, turn["role"], turn["content"])
        return {"ok": True, "turns": len(call["turns"])}

    def ctl_create_calls(self, params, query, body):
        sim = self.sim
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100000:
            raise ControlError("count must be an integer 0..100000")
        status = body.get("status", "completed")
        direction = body.get("direction", "outbound")
        if direction not in ("inbound", "outbound", "web"):
            raise ControlError("direction must be inbound, outbound or web")
        agent_id = body.get("agentId", "agt_1")
        agent = sim.agents.get(agent_id)
        if agent is None:
            raise ControlError("unknown agent %s" % agent_id)
        duration = body.get("durationSeconds", 30)
        turns = normalize_turns(body.get("turns", []))
        number_id = body.get("fromNumberId") or next(iter(agent["numbers"]), None)
        number = agent["numbers"].get(number_id) if number_id else None
        if direction == "web":
            number_id = number = None
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int)):
            raise ControlError("durationSeconds must be an integer or null")
        remote = "+14155559999"
        ended = status not in UNENDED_STATUSES
        now = time.time()
        started = now
        if body.get("startedAt") is not None:
            try:
                started = datetime.fromisoformat(
                    str(body["startedAt"]).replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise ControlError("startedAt must be an ISO-8601 time")
        ids = []
        for index in range(count):
            if direction == "outbound":
                from_number = body.get("fromNumber", number)
                to_number = body.get("toNumber", remote)
            elif direction == "inbound":
                from_number = body.get("fromNumber", remote)
                to_number = body.get("toNumber", number)
            else:
                from_number = body.get("fromNumber")
                to_number = body.get("toNumber")
            if isinstance(from_number, str):
                from_number = from_number.replace("{i}", str(index))
            if isinstance(to_number, str):
                to_number = to_number.replace("{i}", str(index))
            script = dict(copy.deepcopy(sim.default_script), hold=True, turns=[],
                          duration_seconds=duration if ended else None)
            call = sim.new_call_locked(agent_id, direction, number_id, number, from_number,
                                       to_number, None, script,
                                       bool(body.get("disableRecording", False)),
                                       status=status, started_ts=started)
            for turn in turns:
                call["turns"].append({"role": turn["role"], "content": turn["content"],
                                      "createdAt": iso(started)})
            if ended:
                call["endedAt"] = iso(started + (duration or 0))
                call["durationSeconds"] = duration
            ids.append(call["id"])
        return {"ids": ids, "count": len(ids)}


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
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--port-file", help="write the listening port to this file")
    parser.add_argument("--heartbeat-seconds", type=float, default=15.0,
                        help="SSE heartbeat interval (default 15)")
    parser.add_argument("--quiet", action="store_true", help="no request log (default)")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)

    if ":" in args.host:
        SimServer.address_family = socket.AF_INET6
    server = SimServer((args.host, args.port), SimHandler)
    server.verbose = args.verbose and not args.quiet
    server.sim = SimState(args.api_key, args.heartbeat_seconds)
    port = server.server_address[1]
    url_host = "[%s]" % args.host if ":" in args.host else args.host
    server.sim.base_url = "http://%s:%d" % (url_host, port)

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


if __name__ == "__main__":
    sys.exit(main())

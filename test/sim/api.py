"""api - the AgentPhone API routes (/v1/...) the extension calls.

Each route is a function of one ApiRequest that returns a Response (or, for
the transcript stream, writes its answer itself and returns STREAMED).
handle() finds the route, checks the API key, and turns validation errors
into FastAPI-style 422 answers.  Request bodies are checked the way FastAPI
and pydantic v2 would (Validator).
"""

import copy
import hashlib
import json
import math
import re
import secrets
import struct
import time

from .answers import (Response, STREAMED, dumps, error, error_locked, match_route,
                      validation)
from .state import pair_turns

E164_RE = re.compile(r"^\+[1-9]\d{1,14}$")
MODEL_TIERS = ("turbo", "balanced", "max")
HEARTBEAT_SECONDS = 15.0  # a transcript stream writes ": heartbeat" this often


class ApiRequest:
    """ApiRequest is what an API route gets: the simulator's state, the path
    parameters, the query, the raw body, the request's log entry and (for the
    stream) the connection, a server.SimHandler."""

    def __init__(self, sim, params, query, raw=b"", entry=None, conn=None):
        self.sim = sim
        self.params = params
        self.query = query
        self.raw = raw
        self.entry = entry if entry is not None else {}
        self.conn = conn


class ApiError(Exception):
    """ApiError answers the request with an HTTPException (handle() renders it)."""
    def __init__(self, status, message, code):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


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


# --- lists ---------------------------------------------------------------------

def _list(req, predicate, filters=True):
    """_list answers a page of the calls predicate keeps, newest first; filters:
    the status, direction and search query parameters of GET /v1/calls apply."""
    query = req.query
    errors = []
    limit = query_int(query, "limit", 20, 1, 100, errors)
    offset = query_int(query, "offset", 0, 0, None, errors)
    if filters:
        direction = query.get("direction")
        if direction is not None and direction not in ("inbound", "outbound", "web"):
            errors.append({"loc": ["query", "direction"],
                           "msg": "Input should be 'inbound', 'outbound' or 'web'",
                           "type": "literal_error"})
    if errors:
        return validation(req.sim, errors)

    def keep(call):
        if not predicate(call):
            return False
        if not filters:
            return True
        if query.get("status") and call["status"] != query["status"]:
            return False
        if query.get("direction") and call["direction"] != query["direction"]:
            return False
        search = query.get("search")
        if search:
            haystacks = [call["fromNumber"] or "", call["toNumber"] or ""]
            if not any(search.lower() in h.lower() for h in haystacks):
                return False
        return True

    sim = req.sim
    with sim.lock:
        calls = sim.sorted_calls_locked(keep)
        page = [sim.call_view_locked(c, summary=True) for c in calls[offset:offset + limit]]
    return Response(200, {"data": page, "hasMore": offset + len(page) < len(calls),
                          "total": len(calls)})


def list_calls(req):
    """GET /v1/calls"""
    return _list(req, lambda c: True)


def number_calls(req):
    """GET /v1/numbers/{number_id}/calls"""
    number_id = req.params["number_id"]
    with req.sim.lock:
        known = req.sim.find_number_locked(number_id) is not None
    if not known:
        return Response(404, {"error": {"message": "Phone number not found",
                                        "code": "PHONE_NUMBER_NOT_FOUND",
                                        "type": "not_found"}})
    return _list(req, lambda c: c["phoneNumberId"] == number_id, filters=False)


def list_agents(req):
    """GET /v1/agents"""
    errors = []
    limit = query_int(req.query, "limit", 20, 1, 100, errors)
    offset = query_int(req.query, "offset", 0, 0, None, errors)
    if errors:
        return validation(req.sim, errors)
    with req.sim.lock:
        shape = req.sim.agents_list
        agents = sorted(copy.deepcopy(req.sim.agents).items())
    if shape == "off":
        return error(req.sim, 404, "Not Found", "NOT_FOUND")
    data = [{"id": agent_id, "name": agent.get("name"), "description": None,
             "voiceMode": "webhook", "voice": "custom_voice_ea22ba5fdfaa18f39c274851c1",
             "createdAt": "2026-01-01T00:00:00Z",
             shape: [{"id": number_id, "phoneNumber": number, "status": "active", "type": "sms"}
                     for number_id, number in sorted(agent["numbers"].items())]}
            for agent_id, agent in agents]
    return Response(200, {"data": data[offset:offset + limit], "hasMore": offset + limit < len(data),
                          "total": len(data)})


# --- creating and ending calls ---------------------------------------------------

def create_call(req):
    """POST /v1/calls"""
    v = Validator(req.raw)
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
    body = v.done()

    sim = req.sim
    with sim.lock:
        agent = sim.agents.get(body["agentId"])
        if agent is None:
            return error_locked(sim, 404, "Agent not found", "AGENT_NOT_FOUND")
        numbers = agent["numbers"]
        if not numbers:
            return error_locked(sim, 400, "Agent has no phone number assigned",
                                "AGENT_HAS_NO_NUMBER")
        number_id = body.get("fromNumberId")
        if number_id is None:
            number_id = next(iter(numbers))
        elif number_id not in numbers:
            return error_locked(sim, 400, "Phone number %s is not assigned to this agent"
                                % number_id, "PHONE_NUMBER_NOT_ASSIGNED")
        number = numbers[number_id]
        script = sim.next_script_locked()
        call = sim.new_call_locked(
            body["agentId"], "outbound", number_id, number, number, body["toNumber"],
            script, body.get("disableRecording") or False,
            status=script.get("live_status", "in-progress"))
        req.entry["call_id"] = call["id"]
        answer = sim.create_view_locked(call)
    sim.start_script(call)
    return Response(200, answer)


def create_web_call(req):
    """POST /v1/calls/web"""
    v = Validator(req.raw)
    v.string("agentId", required=True)
    v.dictionary("metadata")
    v.string_map("variables")
    body = v.done()
    sim = req.sim
    with sim.lock:
        if body["agentId"] not in sim.agents:
            return error_locked(sim, 404, "Agent not found", "AGENT_NOT_FOUND")
        call = sim.new_call_locked(body["agentId"], "web", None, None, None, None,
                                   sim.next_script_locked(), False)
        req.entry["call_id"] = call["id"]
        answer = {"accessToken": secrets.token_urlsafe(32), "callId": call["id"]}
    sim.start_script(call)
    return Response(200, answer)


def path_call_locked(req):
    """path_call_locked returns the call the path's call_id names, or raises the
    404; the caller holds sim.lock."""
    call = req.sim.calls.get(req.params["call_id"])
    if call is None:
        raise ApiError(404, "Call not found", "CALL_NOT_FOUND")
    return call


def end_call(req):
    """POST /v1/calls/{call_id}/end: a live call is "ending", then completed."""
    sim = req.sim
    with sim.lock:
        call = path_call_locked(req)
        if not sim.is_live_locked(call):
            return error_locked(sim, 409, "Call is not in progress", "CALL_NOT_IN_PROGRESS")
        call["status"] = "ending"
        sim.cond.notify_all()
        answer = sim.call_view_locked(call)
    sim.schedule_completion(call)
    return Response(200, answer)


# --- one call ----------------------------------------------------------------------

def get_call(req):
    """GET /v1/calls/{call_id}"""
    sim = req.sim
    with sim.lock:
        call = path_call_locked(req)
        return Response(200, sim.call_view_locked(call))


def transcript(req):
    """GET /v1/calls/{call_id}/transcript, in the shape the control API chose."""
    sim = req.sim
    with sim.lock:
        call = path_call_locked(req)
        shape = sim.transcript_shape
        if shape == 2:
            return Response(200, {"data": pair_turns(call)})
        if shape == 3:
            return Response(200, {"transcripts": pair_turns(call)})
        return Response(200, {"callId": call["id"], "status": call["status"],
                              "transcript": copy.deepcopy(call["turns"])})


def recording(req):
    """GET /v1/calls/{call_id}/recording (no API key needed)"""
    sim = req.sim
    with sim.lock:
        call = path_call_locked(req)
        if not sim.recording_available(call):
            return error_locked(sim, 404, "Recording not available", "RECORDING_NOT_FOUND")
    return Response(200, raw=make_wav(call["id"]), content_type="audio/wav", headers={
        "Content-Disposition": 'attachment; filename="recording-%s.wav"' % call["id"]})


def stream(req):
    """GET /v1/calls/{call_id}/transcript/stream: server-sent events "connected",
    one "turn" per turn, "ended", and ": heartbeat" comments while nothing happens."""
    sim, conn = req.sim, req.conn
    with sim.lock:
        call = path_call_locked(req)
        agent = sim.agents.get(call["agentId"]) if call["agentId"] else None
        connected = {"callId": call["id"], "status": call["status"],
                     "agentId": call["agentId"],
                     "agentName": agent["name"] if agent else None,
                     "direction": call["direction"], "fromNumber": call["fromNumber"],
                     "toNumber": call["toNumber"], "startedAt": call["startedAt"]}
        req.entry["status"] = 200
    conn.close_connection = True
    conn.start_answer(200, "text/event-stream", None,
                      [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")])
    if conn.command == "HEAD":
        return STREAMED

    def event(name, data):
        conn.write(("event: %s\ndata: %s\n\n" % (name, dumps(data).decode("utf-8"))).encode("utf-8"))

    event("connected", connected)
    sent = 0
    next_beat = time.monotonic() + HEARTBEAT_SECONDS
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
            conn.write(b": heartbeat\n\n")
            next_beat = time.monotonic() + HEARTBEAT_SECONDS


# (method, path, route, needs the API key)
ROUTES = [
    ("GET", r"/v1/calls", list_calls, True),
    ("POST", r"/v1/calls", create_call, True),
    ("POST", r"/v1/calls/web", create_web_call, True),
    ("GET", r"/v1/calls/(?P<call_id>[^/]+)", get_call, True),
    ("POST", r"/v1/calls/(?P<call_id>[^/]+)/end", end_call, True),
    ("GET", r"/v1/calls/(?P<call_id>[^/]+)/transcript", transcript, True),
    ("GET", r"/v1/calls/(?P<call_id>[^/]+)/transcript/stream", stream, True),
    ("GET", r"/v1/calls/(?P<call_id>[^/]+)/recording", recording, False),
    ("GET", r"/v1/numbers/(?P<number_id>[^/]+)/calls", number_calls, True),
    ("GET", r"/v1/agents", list_agents, True),
]
ROUTES = [(m, re.compile(p), f, a) for m, p, f, a in ROUTES]


def authorized(sim, authorization):
    """authorized: the Authorization header carries the current API key, or
    one of the other accounts' keys."""
    parts = (authorization or "").split(None, 1)
    with sim.lock:
        keys = [sim.api_key] + sim.other_api_keys
    return len(parts) == 2 and parts[0].lower() == "bearer" and parts[1].strip() in keys


def handle(sim, method, path, query, raw, entry, conn, authorization):
    """handle answers one API request (after faults): 404 or 405 for an unknown
    route, 401 without the API key, 422 for an invalid body."""
    route, params = match_route(ROUTES, "GET" if method == "HEAD" else method, path)
    if route is None:
        if params:
            resp = error(sim, 405, "Method Not Allowed")
            resp.headers.append(("Allow", ", ".join(sorted(set(params)))))
            return resp
        return error(sim, 404, "Not Found")
    _, _, func, needs_auth = route
    if needs_auth and not authorized(sim, authorization):
        return error(sim, 401, "Invalid or missing API key")
    try:
        return func(ApiRequest(sim, params, query, raw, entry, conn))
    except ValidationErrors as exc:
        return validation(sim, exc.errors)
    except ApiError as exc:
        return error(sim, exc.status, exc.message, exc.code)

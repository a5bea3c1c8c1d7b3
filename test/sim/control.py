"""control - the test-control routes (/_sim/...), through which a test drives
the simulator: reset it, change its settings (API key, error and transcript
shapes, agents, default script...), queue call scripts and faults, read the
request log, finish calls and create calls in bulk.

No API key, JSON in and out.  handle() parses the body and runs the route with
the state's lock held; a ControlError is answered 400.
"""

import copy
import json
import re
import time

from .answers import ControlError, Response, match_route
from .faults import matches, normalize_fault
from .state import DEFAULT_SCRIPT, UNENDED_STATUSES, iso


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
        elif key == "live_status":
            if not isinstance(value, str) or not value or value == "ending":
                raise ControlError('script live_status must be a non-empty string other than "ending"')
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


def check_agents(agents):
    """check_agents validates the "agents" setting: {agent_id: {name, numbers}}."""
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


# Every route runs with sim.lock held and gets (sim, params, query, body).

def reset(sim, params, query, body):
    sim.reset_locked()
    return {"ok": True}


def get_config(sim, params, query, body):
    return sim.config_locked()


def set_config(sim, params, query, body):
    new = {}
    for key, value in body.items():
        if key == "api_key":
            if not isinstance(value, str) or not value:
                raise ControlError("api_key must be a non-empty string")
        elif key == "other_api_keys":
            if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
                raise ControlError("other_api_keys must be a list of non-empty strings")
        elif key == "error_shape":
            if value not in ("detail", "envelope"):
                raise ControlError('error_shape must be "detail" or "envelope"')
        elif key == "transcript_shape":
            if value not in (1, 2, 3) or isinstance(value, bool):
                raise ControlError("transcript_shape must be 1, 2 or 3")
        elif key == "idle_seconds":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ControlError("%s must be a number > 0" % key)
            value = float(value)
        elif key == "agents":
            value = check_agents(value)
        elif key == "default_script":
            value = normalize_script(value, DEFAULT_SCRIPT)
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


def queue_items(body, key, normalize, queue):
    """queue_items appends body[key], a list, each item normalized, to queue
    and returns the queue's length."""
    items = body.get(key)
    if not isinstance(items, list):
        raise ControlError('body must be {"%s": [%s, ...]}' % (key, key[:-1]))
    queue.extend([normalize(item) for item in items])
    return len(queue)


def queue_scripts(sim, params, query, body):
    return {"queued": queue_items(body, "scripts",
                                  lambda s: normalize_script(s, sim.default_script),
                                  sim.scripts)}


def clear_scripts(sim, params, query, body):
    sim.scripts = []
    return {"queued": 0}


def queue_faults(sim, params, query, body):
    return {"pending": queue_items(body, "faults", normalize_fault, sim.faults)}


def clear_faults(sim, params, query, body):
    sim.faults = []
    return {"pending": 0}


def requests(sim, params, query, body):
    method, path = query.get("method"), query.get("path")
    return Response(200, [r for r in sim.requests
                          if matches(method, r["method"], case_blind=True)
                          and matches(path, r["path"])])


def clear_requests(sim, params, query, body):
    sim.requests = []
    return {"ok": True}


def finish(sim, params, query, body):
    """finish ends a live call now, with the status given (default completed);
    answers the call as GET /v1/calls/{id} shows it."""
    call = sim.calls.get(params["call_id"])
    if call is None:
        return Response(404, {"detail": "Call not found"})
    if call["endedAt"] is not None:
        return Response(409, {"detail": "Call already ended"})
    status = body.get("status", "completed")
    if not isinstance(status, str) or not status:
        raise ControlError("status must be a non-empty string")
    sim.end_call_locked(call, status)
    return sim.call_view_locked(call)


def create_calls(sim, params, query, body):
    """create_calls creates count outbound calls of agt_1 at once (no log entry,
    no script), oldest first, started now; an ended status gets endedAt now +
    30 s and durationSeconds 30."""
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100000:
        raise ControlError("count must be an integer 0..100000")
    status = body.get("status", "completed")
    agent_id = "agt_1"
    agent = sim.agents.get(agent_id)
    if agent is None:
        raise ControlError("unknown agent %s" % agent_id)
    number_id = body.get("fromNumberId") or next(iter(agent["numbers"]), None)
    number = agent["numbers"].get(number_id) if number_id else None
    duration = 30
    ended = status not in UNENDED_STATUSES
    started = time.time()
    ids = []
    for index in range(count):
        to_number = body.get("toNumber", "+14155559999")
        if isinstance(to_number, str):
            to_number = to_number.replace("{i}", str(index))
        script = dict(copy.deepcopy(sim.default_script), hold=True, turns=[],
                      duration_seconds=duration if ended else None)
        call = sim.new_call_locked(agent_id, "outbound", number_id, number, number,
                                   to_number, script, False,
                                   status=status, started_ts=started)
        if ended:
            call["endedAt"] = iso(started + duration)
            call["durationSeconds"] = duration
        ids.append(call["id"])
    return {"ids": ids, "count": len(ids)}


ROUTES = [
    ("POST", r"/_sim/reset", reset),
    ("GET", r"/_sim/config", get_config),
    ("POST", r"/_sim/config", set_config),
    ("POST", r"/_sim/script", queue_scripts),
    ("DELETE", r"/_sim/script", clear_scripts),
    ("POST", r"/_sim/faults", queue_faults),
    ("DELETE", r"/_sim/faults", clear_faults),
    ("GET", r"/_sim/requests", requests),
    ("DELETE", r"/_sim/requests", clear_requests),
    ("POST", r"/_sim/calls/(?P<call_id>[^/]+)/finish", finish),
    ("POST", r"/_sim/create_calls", create_calls),
]
ROUTES = [(m, re.compile(p), f) for m, p, f in ROUTES]


def handle(sim, method, path, query, raw):
    """handle answers one control request."""
    route, params = match_route(ROUTES, "GET" if method == "HEAD" else method, path)
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
        with sim.lock:
            result = route[2](sim, params, query, body)
    except ControlError as exc:
        return Response(400, {"detail": str(exc)})
    return result if isinstance(result, Response) else Response(200, result)

"""faults - fault injection on API requests.

A test queues faults through POST /_sim/faults (normalize_fault checks each);
every API request takes the first fault that matches its method and path
(take), and serve() answers the request the way that fault says: an HTTP
status or body of the test's choosing instead of the real answer, a delay, a
connection closed before or after the request is handled, a truncated or a
huge body.  docs/simulator.md lists the kinds and their fields.
"""

import copy
import time

from .answers import ControlError, Response, STREAMED, error

FAULT_KINDS = ("status", "delay", "drop", "drop_after", "malformed", "body", "huge")


def matches(pattern, value, case_blind=False):
    """matches tells whether a fault's (or a log filter's) method or path matches
    a request's: an omitted or empty pattern matches anything, else it must be
    equal (for methods, in any case)."""
    if pattern in (None, ""):
        return True
    return pattern.upper() == value.upper() if case_blind else pattern == value


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
    for key in ("seconds", "size"):
        if key in out and (isinstance(out[key], bool) or not isinstance(out[key], (int, float))
                           or out[key] < 0):
            raise ControlError("fault %s must be a number >= 0" % key)
    return out


def take(sim, method, path):
    """take returns (a copy of) the first queued fault matching the request and
    uses up one of its count (or of its skip, returning None), or None."""
    with sim.lock:
        for index, fault in enumerate(sim.faults):
            if (matches(fault.get("method"), method, case_blind=True)
                    and matches(fault.get("path"), path)):
                if fault["skip"] > 0:
                    fault["skip"] -= 1
                    return None
                taken = copy.deepcopy(fault)
                if fault["count"] > 0:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        del sim.faults[index]
                return taken
    return None


def serve(conn, sim, fault, entry, handle):
    """serve answers an API request on connection conn (a server.SimHandler)
    under fault (or None): handle() handles the request normally and returns
    its Response (or STREAMED); the answer's status goes into the log entry."""
    kind = fault["kind"] if fault else None
    if kind == "delay":
        time.sleep(float(fault.get("seconds", 1)))
    elif kind == "drop":
        conn.close_connection = True
        return
    elif kind in ("status", "body"):
        resp = _instead(sim, fault)
        sim.set_entry(entry, status=resp.status)
        conn.send(resp)
        return
    elif kind == "huge":
        _send_huge(conn, sim, fault, entry)
        return

    resp = handle()
    if resp is STREAMED:
        return
    if kind == "drop_after":
        conn.close_connection = True
        return
    if kind == "malformed":
        resp = Response(fault.get("status", 200), raw=b'{"id": "call_',
                        headers=fault.get("headers"))
    sim.set_entry(entry, status=resp.status)
    conn.send(resp)


def _instead(sim, fault):
    """_instead: the answer of a status or body fault."""
    status = fault.get("status", 200)
    headers = fault.get("headers")
    if "body" not in fault:
        if fault["kind"] == "body" or status < 400:
            return Response(status, {}, headers=headers)
        resp = error(sim, status)
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


def _send_huge(conn, sim, fault, entry):
    """_send_huge answers a valid JSON object {"data": "xxx..."} of fault's size."""
    status = fault.get("status", 200)
    size = int(fault.get("size", 10 * 1024 * 1024))
    head, tail = b'{"data":"', b'"}'
    filler = max(0, size - len(head) - len(tail))
    total = len(head) + filler + len(tail)
    sim.set_entry(entry, status=status)
    conn.start_answer(status, fault.get("content_type", "application/json"), total,
                      list((fault.get("headers") or {}).items()))
    if conn.command == "HEAD":
        return
    conn.write(head)
    block = b"x" * 65536
    while filler > 0:
        conn.write(block[:min(filler, len(block))])
        filler -= min(filler, len(block))
    conn.write(tail)

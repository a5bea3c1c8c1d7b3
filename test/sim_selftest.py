#!/usr/bin/env python3
"""sim_selftest.py - checks test/agentphone_sim.py against docs/simulator.md.

Starts the simulator on a free port as a subprocess, then drives the API and the
control interface with http.client.  Standard library only.

    python3 test/sim_selftest.py [-v]
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "agentphone_sim.py")
KEY = "sk_test_agentphone"
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
CALL_ID_RE = re.compile(r"^call_[0-9a-f]{24}$")

PROC = None
PORT = None
TMPDIR = None


def start_simulator():
    global PROC, PORT, TMPDIR
    TMPDIR = tmpdir = tempfile.mkdtemp(prefix="agentphone-sim-")
    port_file = os.path.join(tmpdir, "port")
    PROC = subprocess.Popen([sys.executable, SIM, "--port", "0", "--port-file", port_file],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while not os.path.exists(port_file):
        if PROC.poll() is not None or time.time() > deadline:
            raise RuntimeError("simulator did not start: %s" % PROC.stderr.read())
        time.sleep(0.02)
    with open(port_file) as f:
        PORT = int(f.read().strip())
    line = PROC.stdout.readline().strip()
    assert line == "agentphone simulator listening on http://127.0.0.1:%d/v1" % PORT, line


def stop_simulator():
    PROC.send_signal(signal.SIGTERM)
    try:
        rc = PROC.wait(timeout=5)
    except subprocess.TimeoutExpired:
        PROC.kill()
        raise AssertionError("simulator did not exit within 5 s of SIGTERM")
    stderr = PROC.stderr.read()
    PROC.stdout.close()
    PROC.stderr.close()
    shutil.rmtree(TMPDIR, ignore_errors=True)
    return rc, stderr


def call(method, path, body=None, auth=True, conn=None, timeout=15, headers=None):
    """call sends one request; returns (status, response, raw body bytes)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    hdrs = dict(headers or {})
    if auth is True:
        hdrs["Authorization"] = "Bearer " + KEY
    elif isinstance(auth, str):
        hdrs["Authorization"] = auth
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        if own:
            conn.close()
    return resp.status, resp, raw


def jcall(method, path, body=None, **kw):
    status, resp, raw = call(method, path, body, **kw)
    return status, json.loads(raw) if raw else None


def ctl(method, path, body=None):
    status, data = jcall(method, "/_sim" + path, body, auth=False)
    assert status == 200, (path, status, data)
    return data


def create(**fields):
    body = {"agentId": "agt_1", "toNumber": "+15551230000"}
    body.update(fields)
    status, data = jcall("POST", "/v1/calls", body)
    assert status == 200, (status, data)
    return data


def wait_end(cid, timeout=5):
    """wait_end polls GET /v1/calls/{cid} until the call has ended (or timeout
    passes); returns the last answer."""
    deadline = time.time() + timeout
    while True:
        _, data = jcall("GET", "/v1/calls/" + cid)
        if data.get("endedAt") or time.time() > deadline:
            return data
        time.sleep(0.02)


def listed(query=""):
    """listed: the page GET /v1/calls?limit=100&QUERY answers."""
    status, page = jcall("GET", "/v1/calls?limit=100" + ("&" + query if query else ""))
    assert status == 200, (status, page)
    return page


def read_sse(path, timeout=10):
    """read_sse reads a whole SSE stream; returns (status, headers, events) where
    events are (name, data) pairs and heartbeats appear as ("heartbeat", None)."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    conn.request("GET", path, headers={"Authorization": "Bearer " + KEY,
                                       "Accept": "text/event-stream"})
    resp = conn.getresponse()
    text = resp.read().decode("utf-8")
    conn.close()
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        if block.startswith(": heartbeat"):
            events.append(("heartbeat", None))
            continue
        name = data = None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
        events.append((name, data))
    return resp.status, resp, events


class SimulatorTest(unittest.TestCase):

    def setUp(self):
        ctl("POST", "/reset")

    # --- auth and validation ---------------------------------------------

    def test_auth_required(self):
        for auth in (False, "Bearer wrong", "Basic " + KEY, KEY):
            status, data = jcall("GET", "/v1/calls", auth=auth)
            self.assertEqual(status, 401, auth)
            self.assertEqual(data, {"detail": "Invalid or missing API key"})
        status, _ = jcall("GET", "/v1/calls", auth="bearer " + KEY)
        self.assertEqual(status, 200)
        # recording needs no auth: unknown call is 404, not 401
        status, data = jcall("GET", "/v1/calls/call_x/recording", auth=False)
        self.assertEqual((status, data), (404, {"detail": "Call not found"}))
        ctl("POST", "/config", {"api_key": "sk_other"})
        self.assertEqual(jcall("GET", "/v1/calls")[0], 401)
        self.assertEqual(jcall("GET", "/v1/calls", auth="Bearer sk_other")[0], 200)

    def test_validation_422(self):
        status, data = jcall("POST", "/v1/calls", {"agentId": "agt_1"})
        self.assertEqual(status, 422)
        self.assertEqual(data, {"detail": [{"loc": ["body", "toNumber"], "msg": "Field required",
                                            "type": "missing"}]})
        status, data = jcall("POST", "/v1/calls", {})
        self.assertEqual([e["loc"] for e in data["detail"]],
                         [["body", "agentId"], ["body", "toNumber"]])
        status, data = jcall("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "4155550100"})
        self.assertEqual(status, 422)
        self.assertIn("E.164", data["detail"][0]["msg"])
        bad = {"agentId": 5, "toNumber": "+15551230000", "variables": {"a": 1, "b": None},
               "disableRecording": "yes", "modelTier": "ultra",
               "callScreeningIdentity": "x" * 101, "callScreeningPurpose": "y" * 301,
               "ignoredKey": [1, 2]}
        status, data = jcall("POST", "/v1/calls", bad)
        self.assertEqual(status, 422)
        locs = [e["loc"] for e in data["detail"]]
        for loc in (["body", "agentId"], ["body", "variables", "a"], ["body", "disableRecording"],
                    ["body", "modelTier"], ["body", "callScreeningIdentity"],
                    ["body", "callScreeningPurpose"]):
            self.assertIn(loc, locs)
        self.assertEqual(len(locs), 6)
        for item in data["detail"]:
            self.assertEqual(set(item), {"loc", "msg", "type"})
        status, data = jcall("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+1555",
                                                   "variables": "x"})
        self.assertEqual(data["detail"][0]["type"], "dict_type")
        status, data = jcall("POST", "/v1/calls", b"{not json")
        self.assertEqual(status, 422)
        self.assertEqual(data["detail"][0]["type"], "json_invalid")
        status, data = jcall("POST", "/v1/calls", b"[1]")
        self.assertEqual(status, 422)
        status, data = jcall("POST", "/v1/calls", b"")
        self.assertEqual((status, data["detail"][0]["loc"]), (422, ["body"]))
        self.assertEqual(listed()["total"], 0)

    def test_create_errors(self):
        status, data = jcall("POST", "/v1/calls", {"agentId": "agt_nope", "toNumber": "+15551230000"})
        self.assertEqual((status, data), (404, {"detail": "Agent not found"}))
        status, data = jcall("POST", "/v1/calls", {"agentId": "agt_nonum", "toNumber": "+15551230000"})
        self.assertEqual((status, data), (400, {"detail": "Agent has no phone number assigned"}))
        status, data = jcall("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+15551230000",
                                                   "fromNumberId": "num_3"})
        self.assertEqual(status, 400)
        self.assertIsInstance(data["detail"], str)

    def test_envelope_error_shape(self):
        ctl("POST", "/config", {"error_shape": "envelope"})
        status, data = jcall("GET", "/v1/calls/call_missing")
        self.assertEqual(status, 404)
        self.assertEqual(data["error"]["message"], "Call not found")
        self.assertEqual(data["error"]["type"], "not_found")
        status, data = jcall("POST", "/v1/calls", {"agentId": "agt_1"})
        self.assertEqual(status, 422)
        self.assertEqual(data["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(data["error"]["details"][0]["field"], "toNumber")
        status, data = jcall("GET", "/v1/calls", auth=False)
        self.assertEqual((status, data["error"]["message"]), (401, "Invalid or missing API key"))

    def test_unknown_path_and_method(self):
        status, data = jcall("GET", "/v1/nothing")
        self.assertEqual((status, data), (404, {"detail": "Not Found"}))
        status, data = jcall("DELETE", "/v1/calls")
        self.assertEqual(status, 405)
        status, data = jcall("GET", "/v1/calls/web")
        self.assertEqual((status, data), (404, {"detail": "Call not found"}))

    # --- calls -------------------------------------------------------------

    def test_create_get_lifecycle(self):
        body = {"agentId": "agt_1", "toNumber": "+15551230000", "fromNumberId": "num_2",
                "initialGreeting": "Hi!", "systemPrompt": "Be nice", "variables": {"n": "Ann", "m": None},
                "modelTier": "max", "disableRecording": False, "somethingNew": {"x": 1}}
        status, created = jcall("POST", "/v1/calls", body)
        self.assertEqual(status, 200)
        self.assertRegex(created["id"], CALL_ID_RE)
        self.assertRegex(created["startedAt"], ISO_RE)
        expected = {"agentId": "agt_1", "phoneNumberId": "num_2", "phoneNumber": "+14155550002",
                    "fromNumber": "+14155550002", "toNumber": "+15551230000",
                    "direction": "outbound", "status": "in-progress"}
        for key, value in expected.items():
            self.assertEqual(created[key], value, key)
        self.assertEqual(set(created), set(expected) | {"id", "startedAt"})
        cid = created["id"]
        status, live = jcall("GET", "/v1/calls/" + cid)
        self.assertEqual(live["status"], "in-progress")
        self.assertIsNone(live["endedAt"])
        self.assertFalse(live["recordingAvailable"])
        done = wait_end(cid)
        self.assertEqual(done["status"], "completed")
        self.assertRegex(done["endedAt"], ISO_RE)
        self.assertGreaterEqual(done["durationSeconds"], 1)
        self.assertTrue(done["recordingAvailable"])
        self.assertEqual(done["recordingUrl"],
                         "http://127.0.0.1:%d/v1/calls/%s/recording" % (PORT, cid))
        tr = done["transcripts"]
        self.assertEqual([(t["transcript"], t["response"]) for t in tr],
                         [("", "Hello, this is a call from agentphone."),
                          ("Hi, thanks for calling.", "Goodbye.")])
        for t in tr:
            self.assertTrue(t["id"].startswith("tr_"))
            self.assertEqual(t["confidence"], 0.95)
            self.assertRegex(t["createdAt"], ISO_RE)
        self.assertEqual(ctl("GET", "/requests?method=POST")[0]["body"], body)
        _, data = jcall("GET", "/v1/calls/%s/transcript" % cid)
        self.assertEqual(len(data["transcript"]), 3)
        status, data = jcall("GET", "/v1/calls/call_000000000000000000000000")
        self.assertEqual((status, data), (404, {"detail": "Call not found"}))

    def test_default_from_number_and_scripts(self):
        ctl("POST", "/script", {"scripts": [
            {"outcome": "failed", "turns": [], "turn_interval": 0.05, "duration_seconds": 0},
            {"turns": [{"role": "user", "content": "A"}, {"role": "user", "content": "B"},
                       {"role": "agent", "content": "C"}], "turn_interval": 0.01,
             "duration_seconds": 42}]})
        first = create()
        second = create()
        self.assertEqual(first["phoneNumberId"], "num_1")
        self.assertEqual(first["fromNumber"], "+14155550001")
        a = wait_end(first["id"])
        b = wait_end(second["id"])
        self.assertEqual((a["status"], a["durationSeconds"], a["transcripts"]), ("failed", 0, []))
        self.assertEqual((b["status"], b["durationSeconds"]), ("completed", 42))
        self.assertEqual([(t["transcript"], t["response"]) for t in b["transcripts"]],
                         [("A", None), ("B", "C")])
        third = create()  # queue is empty again: the default script's 3 turns
        self.assertEqual(len(wait_end(third["id"])["transcripts"]), 2)

    def test_end_call(self):
        ctl("POST", "/script", {"scripts": [{"hold": True, "turn_interval": 0.01}]})
        cid = create()["id"]
        time.sleep(0.1)
        status, data = jcall("POST", "/v1/calls/%s/end" % cid)
        self.assertEqual((status, data["id"], data["status"]), (200, cid, "ending"))
        status, data = jcall("POST", "/v1/calls/%s/end" % cid)
        self.assertEqual((status, data), (409, {"detail": "Call is not in progress"}))
        time.sleep(0.5)
        _, data = jcall("GET", "/v1/calls/" + cid)
        self.assertEqual(data["status"], "completed")
        self.assertIsNotNone(data["endedAt"])
        self.assertGreaterEqual(data["durationSeconds"], 1)
        status, data = jcall("POST", "/v1/calls/%s/end" % cid)
        self.assertEqual(status, 409)
        status, data = jcall("POST", "/v1/calls/call_nope/end")
        self.assertEqual((status, data), (404, {"detail": "Call not found"}))

    def test_live_status(self):
        ctl("POST", "/script", {"scripts": [{"live_status": "queued", "turn_interval": 0.01,
                                             "outcome": "reconciling"}]})
        made = create()
        self.assertEqual(made["status"], "queued")
        _, data = jcall("GET", "/v1/calls/" + made["id"])
        self.assertIn(data["status"], ("queued", "reconciling"))
        done = wait_end(made["id"])
        self.assertEqual(done["status"], "reconciling")
        self.assertEqual(len(done["transcripts"]), 2)
        ctl("POST", "/script", {"scripts": [{"live_status": "ringing", "hold": True}]})
        cid = create()["id"]
        status, data = jcall("POST", "/v1/calls/%s/end" % cid)
        self.assertEqual((status, data["status"]), (200, "ending"))
        self.assertEqual(wait_end(cid)["status"], "completed")

    def test_control_finish(self):
        ctl("POST", "/script", {"scripts": [{"hold": True, "turns": []}]})
        cid = create()["id"]
        time.sleep(0.3)
        _, data = jcall("GET", "/v1/calls/" + cid)
        self.assertEqual((data["status"], data["endedAt"]), ("in-progress", None))
        done = ctl("POST", "/calls/%s/finish" % cid, {"status": "no-answer"})
        self.assertEqual((done["id"], done["status"]), (cid, "no-answer"))
        self.assertRegex(done["endedAt"], ISO_RE)
        _, data = jcall("GET", "/v1/calls/" + cid)
        self.assertEqual((data["status"], data["transcripts"]), ("no-answer", []))
        status, _ = jcall("POST", "/_sim/calls/%s/finish" % cid, {}, auth=False)
        self.assertEqual(status, 409)
        status, _ = jcall("POST", "/_sim/calls/call_nope/finish", {}, auth=False)
        self.assertEqual(status, 404)
    def test_list_pagination_and_filters(self):
        ids = ctl("POST", "/create_calls", {"count": 150, "status": "completed"})["ids"]
        self.assertEqual(len(ids), 150)
        status, page = jcall("GET", "/v1/calls")
        self.assertEqual((len(page["data"]), page["hasMore"], page["total"]), (20, True, 150))
        status, page1 = jcall("GET", "/v1/calls?limit=100")
        status, page2 = jcall("GET", "/v1/calls?limit=100&offset=100")
        self.assertEqual((len(page1["data"]), page1["hasMore"]), (100, True))
        self.assertEqual((len(page2["data"]), page2["hasMore"], page2["total"]), (50, False, 150))
        listed_ids = [c["id"] for c in page1["data"] + page2["data"]]
        self.assertEqual(listed_ids, list(reversed(ids)))  # newest first
        summary = page1["data"][0]
        self.assertNotIn("transcripts", summary)
        for key in ("lastTranscriptSnippet", "recordingUrl", "recordingAvailable",
                    "durationSeconds", "endedAt"):
            self.assertIn(key, summary)
        self.assertEqual((summary["agentId"], summary["phoneNumberId"], summary["direction"],
                          summary["durationSeconds"], summary["toNumber"]),
                         ("agt_1", "num_1", "outbound", 30, "+14155559999"))
        status, page = jcall("GET", "/v1/calls?limit=100&offset=150")
        self.assertEqual((page["data"], page["hasMore"]), ([], False))
        for bad in ("limit=101", "limit=0", "limit=abc", "offset=-1", "direction=sideways"):
            status, data = jcall("GET", "/v1/calls?" + bad)
            self.assertEqual(status, 422, bad)
            self.assertEqual(data["detail"][0]["loc"][0], "query")
        ctl("POST", "/create_calls", {"count": 3, "status": "in-progress",
                                      "toNumber": "+4930123{i}"})
        ctl("POST", "/create_calls", {"count": 2, "status": "failed", "fromNumberId": "num_2"})
        ctl("POST", "/script", {"scripts": [{"hold": True}]})
        create(agentId="agt_2")
        checks = {"status=in-progress": 4, "status=failed": 2, "direction=outbound": 156,
                  "direction=inbound": 0, "search=%2B4930": 3, "search=49301231": 1,
                  "search=442071230003": 1, "status=completed&search=4155559999": 150}
        for q, n in checks.items():
            self.assertEqual(listed(q)["total"], n, q)
        failed = listed("status=failed")["data"][0]
        self.assertEqual((failed["phoneNumberId"], failed["fromNumber"]), ("num_2", "+14155550002"))
        live = listed("status=in-progress&search=4930")["data"][0]
        self.assertEqual((live["endedAt"], live["durationSeconds"]), (None, None))
    def test_number_calls(self):
        create(fromNumberId="num_2")
        create()
        for _ in range(3):
            create(agentId="agt_2")
        _, page = jcall("GET", "/v1/numbers/num_2/calls")
        self.assertEqual((page["total"], page["data"][0]["phoneNumberId"]), (1, "num_2"))
        _, page = jcall("GET", "/v1/numbers/num_3/calls?limit=2&offset=0")
        self.assertEqual((page["total"], len(page["data"]), page["hasMore"]), (3, 2, True))
        status, data = jcall("GET", "/v1/numbers/num_404/calls")
        self.assertEqual((status, data), (404, {"error": {"message": "Phone number not found",
                                                          "code": "PHONE_NUMBER_NOT_FOUND",
                                                          "type": "not_found"}}))
        status, _ = jcall("GET", "/v1/numbers/num_2/calls?limit=500")
        self.assertEqual(status, 422)
        ctl("POST", "/config", {"agents": {"agt_x": {"name": "X", "numbers": {"num_x": "+15550001111"}}}})
        self.assertEqual(jcall("GET", "/v1/numbers/num_x/calls")[0], 200)
        self.assertEqual(jcall("GET", "/v1/numbers/num_2/calls")[0], 404)
        self.assertEqual(create(agentId="agt_x")["fromNumber"], "+15550001111")
    def test_list_agents(self):
        _, page = jcall("GET", "/v1/agents")
        self.assertEqual([a["id"] for a in page["data"]], ["agt_1", "agt_2", "agt_nonum"])
        self.assertEqual(page["data"][0]["numbers"],
                         [{"id": "num_1", "phoneNumber": "+14155550001", "status": "active", "type": "sms"},
                          {"id": "num_2", "phoneNumber": "+14155550002", "status": "active", "type": "sms"}])
        self.assertEqual(page["data"][0]["name"], "Support Agent")
        _, page = jcall("GET", "/v1/agents?limit=2&offset=2")
        self.assertEqual(([a["id"] for a in page["data"]], page["hasMore"], page["total"]),
                         (["agt_nonum"], False, 3))
        self.assertEqual(jcall("GET", "/v1/agents?limit=0")[0], 422)
        ctl("POST", "/config", {"agents_list": "phoneNumbers"})
        _, page = jcall("GET", "/v1/agents")
        self.assertIn("phoneNumbers", page["data"][0])
        ctl("POST", "/config", {"agents_list": "off"})
        self.assertEqual(jcall("GET", "/v1/agents")[0], 404)

    def test_transcript_shapes(self):
        ctl("POST", "/script", {"scripts": [{"turn_interval": 0.01}]})
        cid = create()["id"]
        wait_end(cid)
        _, data = jcall("GET", "/v1/calls/%s/transcript" % cid)
        self.assertEqual(set(data), {"callId", "status", "transcript"})
        self.assertEqual((data["callId"], data["status"]), (cid, "completed"))
        self.assertEqual([(t["role"], t["content"]) for t in data["transcript"]],
                         [("agent", "Hello, this is a call from agentphone."),
                          ("user", "Hi, thanks for calling."), ("agent", "Goodbye.")])
        ctl("POST", "/config", {"transcript_shape": 2})
        _, data = jcall("GET", "/v1/calls/%s/transcript" % cid)
        self.assertEqual(list(data), ["data"])
        self.assertEqual(data["data"][1]["transcript"], "Hi, thanks for calling.")
        ctl("POST", "/config", {"transcript_shape": 3})
        _, data = jcall("GET", "/v1/calls/%s/transcript" % cid)
        self.assertEqual(list(data), ["transcripts"])
        self.assertEqual(data["transcripts"][1]["response"], "Goodbye.")
        self.assertEqual(jcall("GET", "/v1/calls/call_nope/transcript")[0], 404)

    def test_recording(self):
        ctl("POST", "/script", {"scripts": [{"turn_interval": 0.01}, {"turn_interval": 0.01}]})
        cid = create()["id"]
        status, _, _ = call("GET", "/v1/calls/%s/recording" % cid, auth=False)
        self.assertEqual(status, 404)  # still live
        wait_end(cid)
        status, resp, wav = call("GET", "/v1/calls/%s/recording" % cid, auth=False)
        self.assertEqual(status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "audio/wav")
        self.assertEqual(resp.getheader("Content-Disposition"),
                         'attachment; filename="recording-%s.wav"' % cid)
        self.assertEqual(wav[:4], b"RIFF")
        self.assertEqual(wav[8:16], b"WAVEfmt ")
        riff_size, = struct.unpack("<I", wav[4:8])
        self.assertEqual(riff_size, len(wav) - 8)
        channels, rate = struct.unpack("<HI", wav[22:28])
        bits, = struct.unpack("<H", wav[34:36])
        self.assertEqual((channels, rate, bits), (1, 8000, 16))
        self.assertEqual(len(wav), 44 + 8000)
        self.assertEqual(call("GET", "/v1/calls/%s/recording" % cid, auth=False)[2], wav)
        quiet = create(disableRecording=True)["id"]
        data = wait_end(quiet)
        self.assertEqual((data["status"], data["recordingAvailable"], data["recordingUrl"]),
                         ("completed", False, None))
        self.assertEqual(call("GET", "/v1/calls/%s/recording" % quiet, auth=False)[0], 404)

    def test_web_call(self):
        status, data = jcall("POST", "/v1/calls/web", {"agentId": "agt_nonum",
                                                       "metadata": {"a": 1}, "variables": {"v": "1"}})
        self.assertEqual(status, 200)
        self.assertEqual(set(data), {"accessToken", "callId"})
        _, web = jcall("GET", "/v1/calls/" + data["callId"])
        self.assertEqual((web["direction"], web["fromNumber"], web["toNumber"]), ("web", None, None))
        self.assertEqual(jcall("POST", "/v1/calls/web", {"agentId": "agt_zzz"})[0], 404)
        self.assertEqual(jcall("POST", "/v1/calls/web", {"metadata": {}})[0], 422)
        self.assertEqual(jcall("POST", "/v1/calls/web", {"agentId": "agt_1", "metadata": 3})[0], 422)
        _, data = jcall("POST", "/v1/calls/web", {"agentId": "agt_1"})
        log = ctl("GET", "/requests?method=POST&path=/v1/calls/web")
        self.assertEqual(log[-1]["call_id"], data["callId"])

    # --- SSE -----------------------------------------------------------------

    def test_sse_live_stream(self):
        ctl("POST", "/script", {"scripts": [{"turn_interval": 0.1, "duration_seconds": 7}]})
        cid = create()["id"]
        status, resp, events = read_sse("/v1/calls/%s/transcript/stream" % cid)
        self.assertEqual(status, 200)
        self.assertTrue(resp.getheader("Content-Type").startswith("text/event-stream"))
        self.assertIsNone(resp.getheader("Content-Length"))
        names = [e[0] for e in events]
        self.assertEqual(names, ["connected", "turn", "turn", "turn", "ended"])
        connected = events[0][1]
        self.assertEqual(set(connected), {"callId", "status", "agentId", "agentName", "direction",
                                          "fromNumber", "toNumber", "startedAt"})
        self.assertEqual((connected["callId"], connected["status"], connected["agentName"]),
                         (cid, "in-progress", "Support Agent"))
        self.assertEqual(events[2][1]["role"], "user")
        self.assertEqual(set(events[1][1]), {"role", "content", "createdAt"})
        self.assertEqual(events[-1][1]["status"], "completed")
        self.assertEqual(events[-1][1]["durationSeconds"], 7)
        # a finished call replays everything at once
        t0 = time.time()
        _, _, again = read_sse("/v1/calls/%s/transcript/stream" % cid)
        self.assertLess(time.time() - t0, 1)
        self.assertEqual([e[0] for e in again], names)
        self.assertEqual(again[0][1]["status"], "completed")
        status, _, raw = call("GET", "/v1/calls/call_nope/transcript/stream")
        self.assertEqual((status, json.loads(raw)), (404, {"detail": "Call not found"}))

    def test_sse_finish(self):
        ctl("POST", "/script", {"scripts": [{"hold": True, "turns": []}]})
        cid = create()["id"]
        import threading
        timer = threading.Timer(0.55, lambda: ctl("POST", "/calls/%s/finish" % cid,
                                                  {"status": "busy"}))
        timer.start()
        t0 = time.time()
        _, _, events = read_sse("/v1/calls/%s/transcript/stream" % cid)
        timer.join()
        self.assertGreaterEqual(time.time() - t0, 0.5)
        self.assertEqual([e[0] for e in events], ["connected", "ended"])
        self.assertEqual(events[-1][1]["status"], "busy")
    # --- faults --------------------------------------------------------------

    def test_fault_status(self):
        ctl("POST", "/faults", {"faults": [{"method": "POST", "path": "/v1/calls", "kind": "status",
                                            "status": 429, "headers": {"Retry-After": "2"}}]})
        status, resp, raw = call("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+15551230000"})
        self.assertEqual((status, resp.getheader("Retry-After")), (429, "2"))
        self.assertEqual(json.loads(raw), {"detail": "Rate limit exceeded"})
        self.assertEqual(listed()["total"], 0)
        cid = create()["id"]  # fault used up
        # no method: any method; exact path only
        ctl("POST", "/faults", {"faults": [{"path": "/v1/calls/" + cid, "kind": "status",
                                            "status": 503, "body": "upstream down", "count": 2}]})
        self.assertEqual(call("GET", "/v1/calls/%s/transcript" % cid)[0], 200)
        self.assertEqual(call("GET", "/v1/calls/" + cid)[2], b"upstream down")
        status, resp, _ = call("GET", "/v1/calls/" + cid)
        self.assertEqual((status, resp.getheader("Content-Type")), (503, "text/plain; charset=utf-8"))
        self.assertEqual(call("GET", "/v1/calls/" + cid)[0], 200)  # count used up
        ctl("POST", "/faults", {"faults": [{"method": "get", "path": "/v1/calls", "kind": "status",
                                            "status": 401}]})
        status, resp, raw = call("GET", "/v1/calls")
        self.assertEqual((status, resp.getheader("WWW-Authenticate")), (401, "Bearer"))

    def test_fault_skip(self):
        cid = create()["id"]
        ctl("POST", "/faults", {"faults": [{"path": "/v1/calls/" + cid, "kind": "status", "status": 503,
                                            "skip": 2, "count": 1}]})
        self.assertEqual([call("GET", "/v1/calls/" + cid)[0] for _ in range(4)], [200, 200, 503, 200])
        self.assertEqual(jcall("POST", "/_sim/faults", {"faults": [{"kind": "drop", "skip": -1}]},
                               auth=False)[0], 400)

    def test_fault_delay(self):
        ctl("POST", "/faults", {"faults": [{"method": "POST", "path": "/v1/calls", "kind": "delay",
                                            "seconds": 0.6}]})
        t0 = time.time()
        create()
        self.assertGreaterEqual(time.time() - t0, 0.55)
        # a client that gives up early still leaves the call behind
        ctl("POST", "/faults", {"faults": [{"method": "POST", "path": "/v1/calls", "kind": "delay",
                                            "seconds": 0.8}]})
        with self.assertRaises((socket.timeout, TimeoutError)):
            call("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+15551230000"}, timeout=0.3)
        time.sleep(0.8)
        self.assertEqual(listed()["total"], 2)
        log = ctl("GET", "/requests?method=POST&path=/v1/calls")
        self.assertEqual([r["fault"] for r in log], ["delay", "delay"])

    def test_fault_drop(self):
        ctl("POST", "/faults", {"faults": [{"method": "POST", "path": "/v1/calls", "kind": "drop"}]})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            call("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+15551230000"})
        self.assertEqual(listed()["total"], 0)
        entry = ctl("GET", "/requests")[0]
        self.assertEqual((entry["status"], entry["fault"], entry["call_id"]), (None, "drop", None))

    def test_fault_drop_after(self):
        ctl("POST", "/faults", {"faults": [{"method": "POST", "path": "/v1/calls",
                                            "kind": "drop_after"}]})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            call("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+15551230000"})
        calls = listed()["data"]
        self.assertEqual(len(calls), 1)
        entry = ctl("GET", "/requests")[0]
        self.assertEqual((entry["status"], entry["call_id"]), (None, calls[0]["id"]))

    def test_fault_malformed(self):
        ctl("POST", "/faults", {"faults": [{"method": "POST", "path": "/v1/calls", "kind": "malformed"}]})
        status, resp, raw = call("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+15551230000"})
        self.assertEqual((status, raw, resp.getheader("Content-Type")),
                         (200, b'{"id": "call_', "application/json"))
        self.assertEqual(listed()["total"], 1)

    def test_fault_body(self):
        ctl("POST", "/faults", {"faults": [
            {"method": "GET", "path": "/v1/calls", "kind": "body", "body": "<html>oops</html>",
             "content_type": "text/html", "status": 502},
            {"method": "GET", "path": "/v1/calls", "kind": "body", "body": {"data": "weird"}},
            {"method": "POST", "path": "/v1/calls", "kind": "body", "body": {"id": 1}}]})
        status, resp, raw = call("GET", "/v1/calls")
        self.assertEqual((status, raw, resp.getheader("Content-Type")),
                         (502, b"<html>oops</html>", "text/html"))
        self.assertEqual(jcall("GET", "/v1/calls"), (200, {"data": "weird"}))
        self.assertEqual(jcall("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+1555"}),
                         (200, {"id": 1}))
        self.assertEqual(listed()["total"], 0)

    def test_fault_huge(self):
        size = 3 * 1024 * 1024 + 7
        ctl("POST", "/faults", {"faults": [{"method": "POST", "path": "/v1/calls", "kind": "huge",
                                            "size": size}]})
        status, resp, raw = call("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+15551230000"})
        self.assertEqual((status, len(raw), int(resp.getheader("Content-Length"))), (200, size, size))
        self.assertEqual(set(json.loads(raw)), {"data"})
        self.assertEqual(listed()["total"], 0)

    def test_fault_validation_and_clear(self):
        for bad in ({"kind": "explode"}, {"kind": "status"}, {"kind": "drop", "count": 0},
                    {"kind": "delay", "seconds": -1}, {"kind": "drop", "path": 3}):
            status, _ = jcall("POST", "/_sim/faults", {"faults": [bad]}, auth=False)
            self.assertEqual(status, 400, bad)
        self.assertEqual(ctl("POST", "/faults", {"faults": [{"kind": "drop"}, {"kind": "drop"}]}),
                         {"pending": 2})
        self.assertEqual(ctl("DELETE", "/faults"), {"pending": 0})
        self.assertEqual(jcall("GET", "/v1/calls")[0], 200)

    # --- request log, keep-alive ----------------------------------------------

    def test_request_log(self):
        create()
        create(variables={"k": "v"})
        jcall("GET", "/v1/calls?limit=5&status=completed")
        jcall("POST", "/v1/calls", {"agentId": "agt_1"})
        self.assertEqual(len(ctl("GET", "/requests?method=POST&path=/v1/calls")), 3)
        self.assertEqual(len(ctl("GET", "/requests?method=post")), 3)
        self.assertEqual(len(ctl("GET", "/requests?path=/v1/calls")), 4)
        log = ctl("GET", "/requests")
        self.assertEqual([r["seq"] for r in log], [1, 2, 3, 4])
        second = log[1]
        self.assertEqual(second["body"]["variables"], {"k": "v"})
        self.assertEqual(second["headers"]["authorization"], "Bearer " + KEY)
        self.assertEqual(second["headers"]["content-type"], "application/json")
        self.assertEqual(second["status"], 200)
        self.assertRegex(second["call_id"], CALL_ID_RE)
        self.assertIsInstance(second["time"], float)
        self.assertEqual(log[2]["query"], {"limit": "5", "status": "completed"})
        self.assertEqual((log[3]["status"], log[3]["call_id"]), (422, None))
        ctl("POST", "/create_calls", {"count": 5})
        self.assertEqual(len(ctl("GET", "/requests")), 4)
        self.assertEqual(ctl("DELETE", "/requests"), {"ok": True})
        self.assertEqual(ctl("GET", "/requests"), [])
        create()
        self.assertEqual([r["seq"] for r in ctl("GET", "/requests")], [5])
        ctl("POST", "/reset")
        self.assertEqual(ctl("GET", "/requests"), [])

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        status, _, _ = call("GET", "/v1/calls", conn=conn)
        sock = conn.sock
        self.assertIsNotNone(sock)
        status2, _, _ = call("POST", "/v1/calls", {"agentId": "agt_1"}, conn=conn)  # 422 keeps it
        status3, _, raw = call("POST", "/v1/calls", {"agentId": "agt_1", "toNumber": "+15551230000"},
                               conn=conn)
        status4, _, _ = call("GET", "/v1/nowhere", conn=conn)
        status5, _, _ = call("GET", "/v1/calls", auth=False, conn=conn)
        self.assertEqual((status, status2, status3, status4, status5), (200, 422, 200, 404, 401))
        self.assertIs(conn.sock, sock)
        conn.close()
        peers = {r["headers"]["host"] for r in ctl("GET", "/requests")}
        self.assertEqual(len(peers), 1)

    def test_client_disconnects_do_not_hurt(self):
        ctl("POST", "/faults", {"faults": [
            {"method": "GET", "path": "/v1/calls", "kind": "huge", "size": 20 * 1024 * 1024},
            {"method": "GET", "path": "/v1/calls", "kind": "delay", "seconds": 0.2}]})
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            sock.sendall(b"GET /v1/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         + KEY.encode() + b"\r\n\r\n")
            self.assertTrue(sock.recv(100).startswith(b"HTTP/1.1 200"))
            sock.close()
        ctl("POST", "/script", {"scripts": [{"hold": True, "turns": []}]})
        cid = create()["id"]
        sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        sock.sendall(("GET /v1/calls/%s/transcript/stream HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: Bearer %s\r\n\r\n" % (cid, KEY)).encode())
        got = b""
        while b"event: connected" not in got:
            data = sock.recv(4096)
            self.assertTrue(data, got)
            got += data
        sock.close()
        time.sleep(0.3)
        self.assertEqual(jcall("GET", "/v1/calls")[0], 200)

    def test_parallel_clients(self):
        import threading
        results = []

        def worker():
            results.append(jcall("POST", "/v1/calls", {"agentId": "agt_2",
                                                       "toNumber": "+15551230000"})[0])
        threads = [threading.Thread(target=worker) for _ in range(40)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(results, [200] * 40)
        self.assertEqual(jcall("GET", "/v1/numbers/num_3/calls")[1]["total"], 40)

    def test_reset_restores_everything(self):
        ctl("POST", "/create_calls", {"count": 3})
        ctl("POST", "/config", {"error_shape": "envelope", "transcript_shape": 2, "api_key": "k2",
                                "agents": {}, "idle_seconds": 1, "agents_list": "off"})
        ctl("POST", "/script", {"scripts": [{"hold": True, "turn_interval": 0.01}]})
        ctl("POST", "/faults", {"faults": [{"kind": "drop"}]})
        ctl("POST", "/reset")
        config = ctl("GET", "/config")
        self.assertEqual((config["error_shape"], config["transcript_shape"], config["api_key"],
                          config["idle_seconds"], config["agents_list"]),
                         ("detail", 1, KEY, 300.0, "numbers"))
        self.assertEqual(sorted(config["agents"]), ["agt_1", "agt_2", "agt_nonum"])
        self.assertEqual(config["default_script"]["turn_interval"], 0.2)
        self.assertEqual(listed()["total"], 0)  # no fault left: not dropped
        cid = create()["id"]  # the default script: not held
        self.assertEqual(wait_end(cid)["status"], "completed")
        self.assertEqual(ctl("GET", "/requests")[0]["seq"], 1)

    def test_config_and_scripts_validation(self):
        for bad in ({"error_shape": "xml"}, {"transcript_shape": 4}, {"api_key": ""},
                    {"idle_seconds": 0}, {"agents_list": "all"}, {"nope": 1},
                    {"agents": {"a": {"numbers": {"n": "+1"}}, "b": {"numbers": {"n": "+2"}}}},
                    {"default_script": {"hold": "yes"}}):
            status, _ = jcall("POST", "/_sim/config", bad, auth=False)
            self.assertEqual(status, 400, bad)
        for bad in ([{"turns": [{"role": "bot", "content": "x"}]}], [{"outcome": ""}],
                    [{"turn_interval": -1}], [{"duration_seconds": 1.5}], [{"x": 1}], [3],
                    [{"live_status": ""}], [{"live_status": "ending"}]):
            status, _ = jcall("POST", "/_sim/script", {"scripts": bad}, auth=False)
            self.assertEqual(status, 400, bad)
        self.assertEqual(jcall("POST", "/_sim/config", b"[1]", auth=False)[0], 400)
        self.assertEqual(jcall("POST", "/_sim/config", b"{x", auth=False)[0], 400)
        self.assertEqual(jcall("GET", "/_sim/nothing", auth=False)[0], 404)
        self.assertEqual(jcall("PUT", "/_sim/reset", auth=False)[0], 405)
        ctl("POST", "/config", {"default_script": {"turns": [], "turn_interval": 0.01,
                                                   "outcome": "no-answer"}})
        self.assertEqual(ctl("POST", "/script", {"scripts": [{"outcome": "busy"}]}), {"queued": 1})
        first, second = create()["id"], create()["id"]
        self.assertEqual((wait_end(first)["status"], wait_end(second)["status"]),
                         ("busy", "no-answer"))
        self.assertEqual(ctl("POST", "/script", {"scripts": [{}, {}]}), {"queued": 2})
        self.assertEqual(ctl("DELETE", "/script"), {"queued": 0})

def main():
    start_simulator()
    try:
        program = unittest.main(exit=False, verbosity=2 if "-v" in sys.argv else 1)
        ok = program.result.wasSuccessful()
    finally:
        rc, stderr = stop_simulator()
    if rc != 0:
        print("FAIL: simulator exit status %d after SIGTERM" % rc)
        ok = False
    if stderr.strip():
        print("FAIL: simulator wrote to stderr:\n" + stderr)
        ok = False
    print("simulator self-test: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

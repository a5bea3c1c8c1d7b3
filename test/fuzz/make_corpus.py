#!/usr/bin/env python3
# make_corpus.py: writes the seed corpus of the fuzz targets (corpus/TARGET/).
"""make_corpus.py - writes the seed corpus of the fuzz targets (test/fuzz/corpus/).

The API answers are rendered by the simulator's own code (the package test/sim/:
its call views, list pages, transcript shapes and error shapes), with the clock
and the id generator fixed so that the files come out the same on every run.
The other seeds (odd answers, E.164 numbers, variables, options) are written
out below.  Run it after the simulator's shapes change:

    python3 test/fuzz/make_corpus.py

It replaces the files it writes and leaves others in corpus/ alone.
"""

import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # test/, which holds the simulator's package

from sim import answers, api, state  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
T0 = 1717232400.25  # 2024-06-01T09:00:00.250Z


def load_simulator():
    """load_simulator fixes the simulator's clock and call ids; returns the clock."""
    clock = {"now": T0}
    counter = {"n": 0}

    def token_hex(n):
        counter["n"] += 1
        return ("%0*x" % (2 * n, 0xA9E4700 + counter["n"]))[-2 * n:]

    fixed = types.SimpleNamespace(time=lambda: clock["now"], monotonic=lambda: clock["now"],
                                  sleep=lambda s: None)
    state.time = api.time = fixed
    state.secrets = types.SimpleNamespace(token_hex=token_hex)
    return clock


class Api:
    """Api calls the simulator's routes without HTTP."""

    def __init__(self):
        self.state = state.SimState(state.DEFAULT_API_KEY)

    def get(self, route, query=None, **params):
        """get: the body route answers for a GET with those path parameters."""
        return route(api.ApiRequest(self.state, params, query or {})).body


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif not isinstance(data, bytes):
        data = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def make_calls(sim, clock):
    st = sim.state
    with st.lock:
        done = st.new_call_locked("agt_1", "outbound", "num_1", "+14155550001", "+14155550001",
                                  "+14155550100", {}, False)
        clock["now"] += 2
        st.add_turn_locked(done, "agent", "Hello, this is a call from agentphone.")
        clock["now"] += 1.5
        st.add_turn_locked(done, "user", "Hi, thanks for calling. Ça va — très bien 👍")
        clock["now"] += 1
        st.add_turn_locked(done, "agent", "Goodbye.")
        clock["now"] += 0.5
        st.end_call_locked(done, "completed")
        live = st.new_call_locked("agt_2", "outbound", "num_3", "+442071230003", "+442071230003",
                                  "+442071230004", {}, True)
        st.add_turn_locked(live, "user", "Hello?")
        failed = st.new_call_locked("agt_1", "outbound", "num_2", "+14155550002", "+14155550002",
                                    "+14155550199", {}, False)
        st.end_call_locked(failed, "failed")
    return done, live, failed


def main():
    clock = load_simulator()
    sim = Api()
    st = sim.state
    done, live, failed = make_calls(sim, clock)

    # api_call: POST /calls answers and GET /calls/{id}
    with st.lock:
        write("api_call", "create_answer.json", st.create_view_locked(done))
        write("api_call", "create_answer_callid.json",
              {"callId": live["id"], "status": "in-progress"})
    for name, call in (("completed", done), ("in_progress", live), ("failed", failed)):
        write("api_call", "get_%s.json" % name,
              sim.get(api.get_call, call_id=call["id"]))
    write("api_call", "odd_types.json",
          {"id": "call_x", "status": 7, "startedAt": "2024-06-01T09:00:00+02:00",
           "endedAt": "yesterday", "durationSeconds": -3, "recordingAvailable": "yes",
           "transcripts": [{"role": "agent", "content": "  "}, {"transcript": 5}, 3]})

    # api_list: pages of GET /calls
    for name, query in (("page_all", {}), ("page_first", {"limit": "1"}),
                        ("page_second", {"limit": "1", "offset": "1"}),
                        ("page_empty", {"status": "queued"})):
        write("api_list", name + ".json", sim.get(api.list_calls, query))
    write("api_list", "no_data.json", {"items": [], "hasMore": False})

    # api_transcript: the three shapes the simulator serves, and a bare array
    for shape in (1, 2, 3):
        with st.lock:
            st.transcript_shape = shape
        write("api_transcript", "shape%d.json" % shape,
              sim.get(api.transcript, call_id=done["id"]))
    with st.lock:
        st.transcript_shape = 1
        turns = [{"role": t["role"], "content": t["content"], "createdAt": t["createdAt"]}
                 for t in done["turns"]]
    write("api_transcript", "bare_array.json", turns)
    write("api_transcript", "empty.json", {"callId": live["id"], "transcript": []})

    # api_error: both shapes of the simulator, for each kind of error
    for shape in ("detail", "envelope"):
        with st.lock:
            st.error_shape = shape
        write("api_error", "%s_404.json" % shape,
              sim.get(api.get_call, call_id="call_missing"))
        write("api_error", "%s_422.json" % shape, answers.validation(st, [
            {"loc": ["body", "toNumber"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "agentId"], "msg": "Input should be a valid string",
             "type": "string_type"},
            {"loc": ["body"], "msg": "Invalid JSON", "type": "json_invalid"}]).body)
        write("api_error", "%s_429.json" % shape, answers.error(st, 429).body)
    write("api_error", "message_only.json", {"message": "Too many requests"})
    write("api_error", "error_string.json", {"error": "unauthorized\tkey"})
    write("api_error", "html.txt", "<html><body><h1>502 Bad Gateway</h1>\r\n</body></html>")
    write("api_error", "long_detail.json", {"detail": "é" * 400})

    # api_sse: streams as the simulator writes them
    def event(name, data):
        return "event: %s\ndata: %s\n\n" % (name, answers.dumps(data).decode("utf-8"))

    connected = {"callId": done["id"], "status": "in-progress", "agentId": "agt_1",
                 "agentName": "Support Agent", "direction": "outbound",
                 "fromNumber": done["fromNumber"], "toNumber": done["toNumber"],
                 "startedAt": done["startedAt"]}
    final = {"callId": done["id"], "status": done["status"], "endedAt": done["endedAt"],
             "durationSeconds": done["durationSeconds"]}
    stream = event("connected", connected)
    for t in done["turns"]:
        stream += event("turn", {"role": t["role"], "content": t["content"],
                                 "createdAt": t["createdAt"]})
        stream += ": heartbeat\n\n"
    stream += event("ended", final)
    write("api_sse", "stream.txt", stream)
    write("api_sse", "stream_crlf.txt", stream.replace("\n", "\r\n"))
    write("api_sse", "partial.txt", stream[: len(stream) * 2 // 3])
    write("api_sse", "multiline.txt",
          'data: {"role": "user",\ndata:  "content": "two lines"}\n\n'
          "event:turn\ndata:{\"role\":\"agent\",\"content\":\"no spaces\"}\n\n"
          "id: 7\nretry: 1000\nevent: ended\n\n")

    # e164
    for name, number in (("us", "+14155550100"), ("uk", "+442071230003"),
                         ("shortest", "+12"), ("longest", "+123456789012345"),
                         ("too_long", "+1234567890123456"), ("leading_zero", "+0123456"),
                         ("no_plus", "14155550100"), ("spaces", "+1 415 555 0100"),
                         ("fullwidth", "+１４１５５５５０１００"), ("plus_only", "+"),
                         ("empty", "")):
        write("e164", name + ".txt", number)

    # variables
    write("variables", "simple.json", {"name": "Ada", "appointment_time": "3pm"})
    write("variables", "scalars.json", {"count": 3, "price": 19.99, "vip": True, "note": None,
                                        "big": 1e30, "neg": -0.0})
    write("variables", "nested.json", {"address": {"city": "Paris"}})
    write("variables", "array.json", ["Ada"])
    write("variables", "unicode.json", {"名前": "エイダ", "emoji": "👍" * 10})
    write("variables", "long_name.json", {"n" * 101: "x"})
    write("variables", "many.json", {"v%d" % i: str(i) for i in range(101)})
    write("variables", "empty_name.json", {"": "x"})
    write("variables", "duplicate.json", '{"a": "1", "a": 2, "b": -1.5e-3}')

    # options
    write("options", "model_tier.json", {"modelTier": "turbo"})
    write("options", "all.json", {"modelTier": "balanced", "callScreeningIdentity": "Acme Dental",
                                  "callScreeningPurpose": "to confirm your appointment",
                                  "disableRecording": True})
    write("options", "nulls.json", {"modelTier": None, "disableRecording": None})
    write("options", "unknown.json", {"waitForCompletion": True})
    write("options", "bad_types.json", {"modelTier": "fast", "disableRecording": "yes"})
    write("options", "scalar.json", "42")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""state - everything the simulator knows, behind one lock.

SimState holds the calls, the agents and their numbers, the queue of call
scripts, the faults queued, the request log and the counters that number
calls and requests; it restores the fixtures on reset, runs each call's
script on a thread, and renders a call the way the API shows it (the full
call with transcripts, a list summary, the creation answer).
"""

import copy
import hashlib
import secrets
import threading
import time
from datetime import datetime, timezone

DEFAULT_API_KEY = "sk_test_agentphone"
# Statuses of a call that has not ended yet (endedAt stays null).
UNENDED_STATUSES = ("in-progress", "ending", "queued", "ringing", "initiated")

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
    # the status the API shows while the call is live (the reference's is
    # in-progress; a test may make it another word, known or not)
    "live_status": "in-progress",
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


class SimState:
    """SimState holds everything the simulator knows, behind one lock (self.lock);
    self.cond (on the same lock) is notified whenever a call changes.  Methods
    named *_locked expect the caller to hold the lock."""

    def __init__(self, api_key):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.initial_api_key = api_key
        self.base_url = "http://127.0.0.1"
        with self.lock:
            self.reset_locked()

    def reset_locked(self):
        self.calls = {}
        self.call_seq = 0
        self.requests = []
        self.request_seq = 0
        self.faults = []
        self.scripts = []
        self.agents = default_agents()
        self.api_key = self.initial_api_key
        self.other_api_keys = []  # further accounts' keys, also accepted
        self.error_shape = "detail"
        self.transcript_shape = 1
        self.idle_seconds = 300.0
        self.default_script = copy.deepcopy(DEFAULT_SCRIPT)
        self.agents_list = "numbers"
        self.cond.notify_all()

    def config_locked(self):
        return {"api_key": self.api_key, "other_api_keys": list(self.other_api_keys),
                "error_shape": self.error_shape,
                "transcript_shape": self.transcript_shape,
                "idle_seconds": self.idle_seconds,
                "agents": copy.deepcopy(self.agents),
                "default_script": copy.deepcopy(self.default_script),
                "agents_list": self.agents_list}

    def find_number_locked(self, number_id):
        for agent_id, agent in self.agents.items():
            if number_id in agent["numbers"]:
                return agent_id, agent["numbers"][number_id]
        return None

    # --- the request log -----------------------------------------------------

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

    # --- calls -----------------------------------------------------------------

    def next_script_locked(self):
        if self.scripts:
            return self.scripts.pop(0)
        return copy.deepcopy(self.default_script)

    def new_call_locked(self, agent_id, direction, number_id, number, from_number,
                        to_number, script, disable_recording,
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
            "script": script,
            "turns": [],
            "_seq": self.call_seq,
            "_started_ts": started_ts,
        }
        self.calls[call["id"]] = call
        self.cond.notify_all()
        return call

    def is_current_locked(self, call):
        """is_current_locked: the call was not forgotten by a reset since."""
        return self.calls.get(call["id"]) is call

    def is_live_locked(self, call):
        """is_live_locked: the call has neither ended nor been asked to end."""
        return call["endedAt"] is None and call["status"] != "ending"

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
                if not self.is_current_locked(call) or not self.is_live_locked(call):
                    return
                self.add_turn_locked(call, turn["role"], turn["content"])
        if script.get("hold"):
            return
        if not script.get("turns"):
            time.sleep(interval)
        with self.lock:
            if self.is_current_locked(call) and self.is_live_locked(call):
                self.end_call_locked(call, script.get("outcome", "completed"))

    def schedule_completion(self, call, delay=0.2):
        """schedule_completion turns an "ending" call into a completed one shortly."""
        def complete():
            time.sleep(delay)
            with self.lock:
                if self.is_current_locked(call) and call["status"] == "ending":
                    self.end_call_locked(call, "completed")
        threading.Thread(target=complete, name="end-" + call["id"], daemon=True).start()

    # --- views -----------------------------------------------------------------

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
        """create_view_locked renders the answer of POST /v1/calls."""
        return {key: call[key] for key in (
            "id", "agentId", "phoneNumberId", "phoneNumber", "fromNumber", "toNumber",
            "direction", "status", "startedAt")}

    def sorted_calls_locked(self, predicate):
        """sorted_calls_locked: the calls predicate keeps, newest first."""
        calls = [c for c in self.calls.values() if predicate(c)]
        calls.sort(key=lambda c: (c["_started_ts"], c["_seq"]), reverse=True)
        return calls

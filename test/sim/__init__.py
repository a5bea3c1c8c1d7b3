"""sim - the offline AgentPhone API simulator, as a package.

test/agentphone_sim.py is the program; this package is its code, one concern
per module (docs/simulator.md is the reference for how to run and drive it):

    answers   what a route answers: Response, JSON encoding, the two error
              shapes (FastAPI "detail" and the "error" envelope), route matching
    state     everything the simulator knows: calls, agents, scripts, faults
              queued, the request log, counters; runs call scripts; call views
    faults    fault injection: validating faults, taking the one that matches a
              request, and answering that request the way the fault says
    api       the /v1/... routes the extension calls, with request validation
    control   the /_sim/... routes through which a test drives the simulator
    server    HTTP plumbing: the connection handler, dispatch, main()

Python standard library only.
"""

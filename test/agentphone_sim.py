#!/usr/bin/env python3
"""agentphone_sim.py - an offline simulator of the AgentPhone calls REST API.

    python3 test/agentphone_sim.py --port 0 --port-file /tmp/sim.port [--api-key KEY] [--quiet]

Serves the API the agentphone extension calls (/v1/...) from memory on one
local port, plus a control API (/_sim/...) through which tests script calls,
inject faults and read back every request.  The code is the package next to
this file, test/sim/; docs/simulator.md is the reference.  Python standard
library only.
"""

import os
import sys

# test/ (this file's directory, wherever it is run from) holds the package
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sim.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

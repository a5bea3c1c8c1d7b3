-- test/bench/wrk_post.lua: the request of test/bench/pgnet.sh's wrk
-- baseline, POST /v1/calls with the body and headers agentphone and pg_net
-- send.  The key is $SIM_KEY (default: the simulator's sk_test_agentphone).
--
--   wrk -t2 -c64 -d10s -s test/bench/wrk_post.lua http://127.0.0.1:PORT/v1/calls
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SIM_KEY") or "sk_test_agentphone")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"agentId": "agt_1", "toNumber": "+14155550100", "variables": {"name": "n1"}}'

-- wrk script for bench/run.sh: prints one machine-readable line at the end,
--   WRKJSON {"requests":..,"duration_us":..,"errors":{...},"latency_us":{...}}
-- beside wrk's own output (run with --latency for its distribution).
--
-- With WRK_POST_USERS=<prefix> in the environment every request is
-- POST /v1/users with a JSON user whose email is unique (prefix, thread,
-- counter), so that each one creates a user instead of hitting
-- ALREADY_EXISTS.

local post_prefix = os.getenv("WRK_POST_USERS")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

if post_prefix and post_prefix ~= "" then
  local counter = 0
  local headers = { ["Content-Type"] = "application/json" }
  function request()
    counter = counter + 1
    local body = string.format(
      '{"name":"Bench User","email":"%s-%d-%d@example.com"}',
      post_prefix, tid or 0, counter)
    return wrk.format("POST", nil, headers, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end

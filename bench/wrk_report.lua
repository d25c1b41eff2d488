-- wrk script for bench.run: `wrk ... -s bench/wrk_report.lua URL -- METHOD [BODY]`
-- Sends METHOD (with the JSON BODY, if given) on every request and prints one
-- line "WRKJSON {...}" with counts, errors and latency percentiles (µs).

local method = "GET"
local body = nil
local req = nil

function init(args)
  if args[1] then method = args[1] end
  if args[2] then body = args[2] end
  local headers = {}
  if body then headers["Content-Type"] = "application/json" end
  req = wrk.format(method, nil, headers, body)
end

function request()
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeout_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

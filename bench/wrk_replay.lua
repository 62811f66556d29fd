-- wrk script for bench/gate_wrk.py: replays pre-built requests, one per line of the file given
-- after `--` (path TAB "Name: value" headers TAB body), split between wrk's threads, each
-- request once (distinct tickets): a thread that runs out stops instead of repeating one.
-- Prints one JSON line: requests, duration, latency percentiles (us), errors, answers by kind.
local counter, threads = 0, {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs, n, idx = {}, 0, 0
admitted, other = 0, 0

function init(args)
  local nthreads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local parts = {}
      for field in string.gmatch(line, "[^\t]+") do parts[#parts + 1] = field end
      local headers = {["Content-Type"] = "application/json"}
      for k = 2, #parts - 1 do
        local name, value = parts[k]:match("^([^:]+):%s*(.*)$")
        headers[name] = value
      end
      n = n + 1
      reqs[n] = wrk.format("POST", parts[1], headers, parts[#parts])
    end
    i = i + 1
  end
end

function request()
  idx = idx + 1
  if idx > n then
    wrk.thread:stop()
    idx = n
  end
  return reqs[idx]
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"ADMITTED"', 1, true) then
    admitted = admitted + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local admitted_all, other_all = 0, 0
  for _, thread in ipairs(threads) do
    admitted_all = admitted_all + thread:get("admitted")
    other_all = other_all + thread:get("other")
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "errors": %d, "admitted": %d, "other": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    admitted_all, other_all))
end

-- wrk script: POST a fixed JSON body; print the run as one JSON line for bench/loadgen.py.
-- wrk -s bench/wrk_post.lua URL -- BODY_FILE [AUTHORIZATION] [RECORD_OVERHEAD:0|1]
local threads = {}
local req

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local body = f:read("*a")
  f:close()
  -- A custom init() skips wrk.init(), which is what adds Host; HTTP/1.1 servers need it.
  local host = wrk.host .. (wrk.port and (":" .. wrk.port) or "")
  local headers = { ["Host"] = host, ["Content-Type"] = "application/json" }
  if args[2] and args[2] ~= "" then
    headers["Authorization"] = args[2]
  end
  req = wrk.format("POST", nil, headers, body)
  overhead = {}
  statuses = {}
  if args[3] == "1" then
    -- Defining response() makes wrk parse every response's headers: only when asked.
    response = function(status, hdrs, _)
      local v = hdrs["x-jinf-overhead-ms"]
      if v and #overhead < 200000 then
        overhead[#overhead + 1] = tonumber(v)
      end
      if status ~= 200 then
        statuses[status] = (statuses[status] or 0) + 1
      end
    end
  end
end

function request()
  return req
end

function done(summary, latency, _)
  local all = {}
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("overhead") or {}) do
      all[#all + 1] = v
    end
  end
  table.sort(all)
  local median = "null"
  if #all > 0 then
    median = string.format("%.4f", all[math.floor((#all + 1) / 2)])
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,'
      .. '"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,'
      .. '"err_timeout":%d,"overhead_ms_p50":%s,"overhead_n":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout,
    median, #all))
end

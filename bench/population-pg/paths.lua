-- wrk script of bench/population-pg/run: each request takes a random path
-- from the file NDX_BENCH_PATHS (one a line: /citizens/PIN or
-- /citizens?name=...&limit=20, sampled from the registry), and the run
-- ends with one machine-readable line with the exact percentiles (the
-- format of bench/wrk.lua).
local paths = {}
for line in io.lines(os.getenv("NDX_BENCH_PATHS")) do
   paths[#paths + 1] = line
end

function init(args)
   math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
   return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'NDXJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9)))
end

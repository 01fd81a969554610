-- wrk script of bench/run: adds the X-Road-Client header the ndx consumer
-- port needs (NDX_BENCH_CLIENT), optionally paces every connection with a
-- pause before each request (NDX_BENCH_DELAY_MS its mean, for the half-load
-- runs; NDX_BENCH_DELAY_SPREAD=fixed for exactly that mean every time), and
-- prints one machine-readable line with the exact percentiles.
local client = os.getenv("NDX_BENCH_CLIENT")
if client ~= nil and client ~= "" then
   wrk.headers["X-Road-Client"] = client
end

local pause = tonumber(os.getenv("NDX_BENCH_DELAY_MS") or "0") or 0
local fixed = os.getenv("NDX_BENCH_DELAY_SPREAD") == "fixed"
if pause > 0 and not fixed then
   -- A pause drawn evenly from 0..2x keeps the mean rate but stops the
   -- connections from falling into step: a fixed pause lets every connection
   -- answered by one group commit send again in the same millisecond.
   math.randomseed(os.time())
   function delay()
      return math.random(0, 2 * pause)
   end
elseif pause > 0 then
   function delay()
      return pause
   end
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

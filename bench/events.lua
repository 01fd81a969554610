-- wrk script of bench/run's events step: each request publishes one event,
-- POST /e1/{serviceId}/{name} on the provider gateway's consumer port, with a
-- body of its own: a residence change of a citizen of its own (a new PIN each
-- request, so that no two events share the in-order group of docs/events.md)
-- carrying in "trace" the run's tag (NDX_BENCH_RUN), the request's number and
-- the CLOCK_MONOTONIC microseconds at which wrk began to write the request.
-- The subscriber side (bench/events_sub.py) reads that time back to measure
-- publish -> acknowledgement. Counts the 201s exactly and prints one
-- machine-readable line with wrk's own latency percentiles (of the publish).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } ndx_bench_timespec;
int clock_gettime(int clk, ndx_bench_timespec *ts);
]]
local ts = ffi.new("ndx_bench_timespec")
local CLOCK_MONOTONIC = 1

local function now_us()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local client = os.getenv("NDX_BENCH_CLIENT") or ""
local run = os.getenv("NDX_BENCH_RUN") or "run"
-- Valid 12-digit PINs (include/ndx/pin.h): Hà Nội's province code 001, a sex and
-- century digit of the 1900s (0 male, 1 female), the two digits of the birth year,
-- a 6-digit serial. The serial is the request's number; the year starts at the run's
-- NDX_BENCH_PIN_YEAR (runs 10 apart) and goes up by one every million requests.
local year0 = tonumber(os.getenv("NDX_BENCH_PIN_YEAR") or "50") or 50

local headers = {
   ["Content-Type"] = "application/json",
   ["X-Road-Client"] = client,
}

local n = 0
n201, nother = 0, 0

-- wrk calls request() once on the first thread's script to check it
-- (script_verify_request) before the run: number 1 is never sent.
function request()
   n = n + 1
   local pin = string.format("001%d%02d%06d", n % 2, (year0 + math.floor(n / 1000000)) % 100,
                             n % 1000000)
   headers["Ndx-Data-Subjects"] = pin
   local body = string.format(
      '{"pin":"%s","province":"01","ward":"00070","address":"Số %d phố Hàng Bông, ' ..
      'phường Hoàn Kiếm, Hà Nội","moved_on":"2026-11-30",' ..
      '"trace":{"run":"%s","n":%d,"t_us":%d}}',
      pin, n % 200 + 1, run, n, now_us())
   return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
   if status == 201 then
      n201 = n201 + 1
   else
      nother = nother + 1
      if nother <= 3 then
         io.stderr:write(string.format("events.lua: status %d: %s\n", status, body))
      end
   end
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local c201, cother = 0, 0
   for _, t in ipairs(threads) do
      c201 = c201 + (t:get("n201") or 0)
      cother = cother + (t:get("nother") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'NDXJSON {"requests":%d,"duration_us":%d,"bytes":%d,"status_201":%d,"status_other":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
      summary.requests, summary.duration, summary.bytes, c201, cother,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9)))
end

-- Shared by the wrk scripts of bench/tokens.py: one machine-readable line at the end of a
-- run, so the script need not parse wrk's human summary.
local report = {}

function report.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end

return report

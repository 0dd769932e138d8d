-- Refresh grants (RFC 6749 §6) with rotation: every response carries a new refresh token,
-- which goes back into this thread's pool for a later request. The pool starts with the
-- lines of BENCH_TOKENS that belong to this thread (line i goes to thread i mod threads),
-- so no token is sent twice (a reused rotated token would revoke its family).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local pool = {}
local basic = "Basic " .. os.getenv("BENCH_BASIC")

function init(args)
  local count = tonumber(os.getenv("BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if i % count == id then
      table.insert(pool, line)
    end
    i = i + 1
  end
end

function request()
  -- An empty pool means a response was lost; the request then fails visibly (non-2xx).
  local token = table.remove(pool) or "exhausted"
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = basic,
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then
    table.insert(pool, token)
  end
end

done = report.done

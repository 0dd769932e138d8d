-- POSTs the client_credentials grant (RFC 6749 §4.4) with client_secret_basic; the
-- credentials come from BENCH_BASIC (base64 of "client_id:secret").
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")

done = report.done

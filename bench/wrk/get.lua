-- Plain GETs (discovery, JWKS) with the shared one-line report.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

done = report.done

-- wrk script for GET /project/:id (make bench; see internal/tools/bench).
--
--   wrk ... -s project.lua URL -- random <projects> <reports> <seed>
--       every request asks for a uniformly random id in 1..<projects>;
--       each wrk thread has its own deterministic stream (seed, thread no.)
--   wrk ... -s project.lua URL -- hot <id> <reports>
--       every request asks for the same project
--
-- done() prints one line, "BENCHJSON {...}", with the totals, error counts
-- and latency percentiles (microseconds) that the bench program reads.

local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
end

function init(args)
	mode = args[1] or "random"
	if mode == "hot" then
		hot = wrk.format("GET", "/project/" .. args[2] .. "?reports=" .. (args[3] or "10"))
	else
		n = tonumber(args[2] or "10000")
		suffix = "?reports=" .. (args[3] or "10")
		math.randomseed(tonumber(args[4] or "1") * 1000 + (tid or 0))
	end
end

function request()
	if hot then
		return hot
	end
	return wrk.format("GET", "/project/" .. math.random(1, n) .. suffix)
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
		'"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
		summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

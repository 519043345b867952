-- wrk script for GET /projects: clients walking the catalogue page by page
-- (make bench, scenario catalogue; see internal/tools/bench).
--
--   wrk ... -s catalogue.lua URL -- walk <pages file> <seed>
--       <pages file> has one path a line: the list's first page, then each
--       next page as the service's Link headers named it (the bench walks
--       the whole list once beforehand, with the cursors the service handed
--       out). A client follows every answer's Link: rel="next" to the next
--       page; after the last page (no Link) it starts again at the first.
--       The walks begin at pages drawn uniformly from the file, so the
--       clients are spread over the list and every page is read about as
--       often as any other.
--
-- wrk's callbacks do not say which connection an answer came on, so each
-- thread keeps its walks' next pages in one queue: every answer adds its
-- next page, every request takes one (or begins a walk when the queue is
-- empty). A thread thus has as many walks under way as connections, each
-- continuing on whichever connection is free — the same pages in the same
-- order as one walk per connection.
--
-- done() prints one line, "BENCHJSON {...}", with the totals, error counts
-- and latency percentiles (microseconds) that the bench program reads, as
-- project.lua does.

local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
end

function init(args)
	pages = {}
	for line in io.lines(args[2]) do
		if line ~= "" then
			pages[#pages + 1] = line
		end
	end
	if #pages == 0 then
		error("catalogue.lua: no pages in " .. args[2])
	end
	math.randomseed(tonumber(args[3] or "1") * 1000 + (tid or 0))
	queue = {}
end

function request()
	local path = table.remove(queue)
	if not path then
		path = pages[math.random(1, #pages)]
	end
	return wrk.format("GET", path)
end

function response(status, headers, body)
	if status ~= 200 then
		queue[#queue + 1] = pages[math.random(1, #pages)] -- the walk failed; another begins
		return
	end
	local link = headers["Link"]
	local next = link and link:match("^<([^>]+)>")
	queue[#queue + 1] = next or pages[1] -- the end of the list: from the top again
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
		'"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
		summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

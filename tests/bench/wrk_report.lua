-- The write scenarios of `make bench` (reads use plain wrk: a script costs wrk enough CPU to cap nginx at
-- about half its rate): request bodies that never repeat, per-thread counters of answers that are HTTP
-- successes but protocol failures, and one JSON line of results at the end.
-- Environment: BENCH_MODE = reply | trackback; BENCH_POST_ID for replies.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  mode = os.getenv("BENCH_MODE") or "reply"
  post_id = os.getenv("BENCH_POST_ID") or "1"
  run = os.getenv("BENCH_RUN") or "0"  -- unique per wrk run: bodies never repeat an earlier run's
  n = 0
  bad = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
  if mode == "reply" then
    wrk.headers["Sec-Fetch-Site"] = "same-origin"  -- as a browser posting the page's own form
  end
end

function request()
  n = n + 1
  local tag = run .. "-" .. id .. "-" .. n
  local body
  if mode == "reply" then
    body = "comment_post_ID=" .. post_id .. "&comment_parent=0"
      .. "&author=Bench+" .. tag .. "&email=b" .. tag .. "%40example.com&url="
      .. "&comment=Benchmark+reply+" .. tag
  else
    body = "url=https%3A%2F%2Fblog.example%2F" .. tag .. "&title=Ping+" .. tag
      .. "&excerpt=Bench+excerpt&blog_name=Bench"
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if mode == "reply" and status ~= 302 then
    bad = bad + 1
  elseif mode == "trackback" and (status ~= 200 or not string.find(body, "<error>0</error>", 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local protocol_errors = 0
  for _, thread in ipairs(threads) do
    protocol_errors = protocol_errors + (thread:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "connect": %d, "read": %d, '
      .. '"write": %d, "status": %d, "timeout": %d, "protocol": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, protocol_errors))
end

-- wrk script for the handler benchmark: POSTs the invocation in $WRK_BODY_FILE and counts
-- replies that lack "statusCode":200 (an HTTP output other than 200, such as a failed write).
-- wrk runs one Lua state per thread, so done() adds up each thread's count.

local file = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Azure-Functions-InvocationId"] = "00000000-0000-4000-8000-000000000000"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad_replies = 0
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"statusCode":200', 1, true) then
    bad_replies = bad_replies + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad_replies")
  end
  io.write(string.format("bad_replies %d\n", total))
end

-- login.lua: the wrk script of flood.sh. Every request posts the login form
-- with the correct password of one of FLOOD_USERS users (flood1, flood2,
-- ...), in turn, so that no account has more than a few attempts in flight
-- and the login throttle lets the flood through. Each carries the
-- csrf_token and the pre-session cookie that flood.sh fetched once (the
-- double-submit token stays valid as long as its cookie). It counts the
-- answers: a login that succeeded redirects (303) away from /login.
--
-- Environment: FLOOD_BODY (the urlencoded form; %d stands for the user's
-- number), FLOOD_USERS, FLOOD_COOKIE (the Cookie header), FLOOD_ORIGIN
-- (the server's origin, for the Origin header).

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = os.getenv("FLOOD_COOKIE")
wrk.headers["Origin"] = os.getenv("FLOOD_ORIGIN")

local threads = {}
local users = tonumber(os.getenv("FLOOD_USERS"))
local body = os.getenv("FLOOD_BODY")

function setup(thread)
  thread:set("first", #threads * 7)
  table.insert(threads, thread)
end

function init(args)
  ok, throttled, busy, other = 0, 0, 0, 0
  next_user = first
end

function request()
  next_user = next_user % users + 1
  return wrk.format(nil, nil, nil, string.format(body, next_user))
end

function response(status, headers, body)
  if status == 303 and headers["Location"] ~= "/login" then
    ok = ok + 1
  elseif status == 429 then
    throttled = throttled + 1
  elseif status == 503 then
    busy = busy + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local sum = {ok = 0, throttled = 0, busy = 0, other = 0}
  for _, t in ipairs(threads) do
    for k in pairs(sum) do
      sum[k] = sum[k] + t:get(k)
    end
  end
  io.write(string.format("logins_ok %d\nlogins_throttled %d\nlogins_busy %d\nlogins_other %d\nseconds %.3f\n",
    sum.ok, sum.throttled, sum.busy, sum.other, summary.duration / 1e6))
end

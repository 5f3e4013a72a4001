-- wrk script for the 202 path (python -m bench.burst): POST /alert with Prefer: respond-async.
-- Half the requests create an alert, half repeat one of the thread's recent resources (a duplicate): every
-- accepted request then adds exactly one to count + duplicateCount of the run's alerts (origin = RUN), which
-- is how the drain is checked. Environment: RUN (origin), KEY (API key).
local run = os.getenv("RUN") or "burst"
local key = os.getenv("KEY") or ""
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  serial = 0
  accepted = 0
  refused = 0
  wrong = 0
  math.randomseed(id * 7919)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Prefer"] = "respond-async"
  if key ~= "" then wrk.headers["Authorization"] = "Key " .. key end
end

function request()
  serial = serial + 1
  local n = serial
  if serial > 8 and math.random() < 0.5 then
    n = serial - math.random(1, 8)  -- a recent resource of this thread: a duplicate
  end
  local body = string.format(
    '{"resource":"%s-%d-%d","event":"BurstLoad","environment":"Production","severity":"major",' ..
    '"service":["bench"],"group":"Bench","value":"%d","text":"burst","origin":"%s"}',
    run, id, n, serial, run)
  return wrk.format(nil, "/alert", nil, body)
end

function response(status, headers, body)
  if status == 202 then
    if string.find(body, '"id"', 1, true) then accepted = accepted + 1 else wrong = wrong + 1 end
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local a, r, w = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted"); r = r + t:get("refused"); w = w + t:get("wrong")
  end
  io.write(string.format("RESULT accepted=%d refused=%d wrong=%d p50=%.3f p90=%.3f p99=%.3f max=%.3f\n",
    a, r, w, latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end

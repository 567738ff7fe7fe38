-- wrk script: POST /api/v1/orders/dispatch with a fresh order.uuid per request, so every request
-- is a new order (a replay would only measure the idempotency lookup).
-- Args: <outletId> [<builtInTransformer>] <run name>; order uuids are unique per outlet, run and thread.
-- Env: BENCH_KEY (an internal-scope API key).
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

local template = '{"outletId":"%s","event":"order.paid",%s"order":{"uuid":"bench-%s-%s-%d-%d","orderRefNo":"ORD-%d",'
  .. '"dailyQueueNo":"A12","storeUuid":"%s","storeName":"Bench Branch","deliveryMethod":"DELIVERY","status":"PAID",'
  .. '"currency":"AED","isPreorder":false,"items":[{"plu":"SKU-BURGER-01","name":"Classic Burger","quantity":2,'
  .. '"itemOnlyPrice":35,"modifierOnlyPrice":5,"itemPrice":40,"itemSubTotal":80,"modifiers":[{"modifierHeaderId":"mh-cheese",'
  .. '"modifierOptionId":"mo-extra-cheese","modifierHeaderName":"Cheese","modifierOptionName":"Extra Cheese","price":5,'
  .. '"quantity":1}]}],"subtotal":80,"discountTotal":0,"serviceCharge":0,"deliveryFee":5,"totalPay":85,'
  .. '"payment":{"amount":85,"tip":5,"method":"CARD"},"createdAt":"2024-12-01T14:30:00Z"}}'

function init(args)
  outlet = args[1]
  if #args >= 3 then
    transformer = '"builtInTransformer":"' .. args[2] .. '",'
    run = args[3]
  else
    transformer = ""
    run = args[2]
  end
  counter = 0
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Api-Key"] = os.getenv("BENCH_KEY")
end

function request()
  counter = counter + 1
  local body = string.format(template, outlet, transformer, outlet, run, tid, counter, counter, outlet)
  return wrk.format("POST", "/api/v1/orders/dispatch", nil, body)
end

done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end

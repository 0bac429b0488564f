-- Introspection of a recently issued token set (BENCH_TOKENS_FILE, one per line),
-- rotating through it; authenticated with BENCH_BASIC = base64(ts_admin_client:secret).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local requests = {}
local next_index = 0

function init(args)
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC"),
  }
  for token in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
    if #token > 0 then
      requests[#requests + 1] = wrk.format("POST", "/oauth2/introspect", headers, "token=" .. token)
    end
  end
  assert(#requests > 0, "no tokens in BENCH_TOKENS_FILE")
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

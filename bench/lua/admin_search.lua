-- Admin search over the seeded clients: GET /api/v1/clients?search=NNNNNN, where each
-- six-digit number names exactly one seeded client ("Bench client NNNNNN"), so every
-- request filters the whole table (no early stop on a full page). The numbers rotate
-- through a fixed pseudo-random set. BENCH_BEARER = an admin access token.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local requests = {}
local next_index = 0

function init(args)
  local count = tonumber(os.getenv("BENCH_SEED_CLIENTS") or "100000")
  local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER") }
  math.randomseed(42)
  for _ = 1, 1000 do
    local n = math.random(0, count - 1)
    requests[#requests + 1] =
      wrk.format("GET", string.format("/api/v1/clients?search=%06d", n), headers, nil)
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

-- Each line of BENCH_BODIES_FILE (form bodies: a code to redeem, a refresh token to
-- rotate) sent once to BENCH_PATH. Past the last line the bodies repeat and are refused,
-- which shows as non-2xx: seed more (BENCH_GRANT_TOKENS). The warm-up and the measured
-- run are two wrk processes: each starts past what the ones before it may have sent,
-- kept in BENCH_BODIES_FILE.offset (completed requests, plus a margin for those still
-- in flight when a run ended).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local bodies = {}
local next_index = 0
local path = os.getenv("BENCH_PATH")
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local offset_file = os.getenv("BENCH_BODIES_FILE") .. ".offset"
local IN_FLIGHT_MARGIN = 1000

local function read_offset()
  local file = io.open(offset_file, "r")
  if not file then return 0 end
  local offset = tonumber(file:read("*l")) or 0
  file:close()
  return offset
end

function init(args)
  for line in io.lines(os.getenv("BENCH_BODIES_FILE")) do
    if #line > 0 then
      bodies[#bodies + 1] = line
    end
  end
  assert(#bodies > 0, "no bodies in BENCH_BODIES_FILE")
  next_index = read_offset()
end

local report = done
function done(summary, latency, requests)
  local file = assert(io.open(offset_file, "w"))
  file:write(tostring(read_offset() + summary.requests + IN_FLIGHT_MARGIN), "\n")
  file:close()
  report(summary, latency, requests)
end

function request()
  next_index = next_index % #bodies + 1
  return wrk.format("POST", path, headers, bodies[next_index])
end

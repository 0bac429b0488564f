-- The console's OAuth Clients list as a signed-in administrator's browser loads it: a
-- full page (the application shell and the table), GET /console/clients with the
-- session cookie the sign-in set (BENCH_COOKIE, "name=value") and the CSRF cookie.
-- BENCH_CONSOLE_PAGE picks the page:
--   first   the first page, newest clients first
--   search  ?search=NNNNNN, where each six-digit number names exactly one seeded client
--           ("Bench client NNNNNN"), rotating through a fixed pseudo-random set, so no
--           request stops early on a full page (as admin_search.lua)
--   deep    ?cursor=BENCH_CURSOR, a page far down the list (setup walks to it)
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
local requests = {}
local next_index = 0

function init(args)
  local headers = {
    ["Cookie"] = os.getenv("BENCH_COOKIE"),
    ["Accept"] = "text/html",
  }
  local page = os.getenv("BENCH_CONSOLE_PAGE") or "first"
  if page == "first" then
    requests[1] = wrk.format("GET", "/console/clients", headers, nil)
  elseif page == "search" then
    local count = tonumber(os.getenv("BENCH_SEED_CLIENTS") or "100000")
    math.randomseed(42)
    for _ = 1, 1000 do
      local n = math.random(0, count - 1)
      requests[#requests + 1] =
        wrk.format("GET", string.format("/console/clients?search=%06d", n), headers, nil)
    end
  elseif page == "deep" then
    requests[1] = wrk.format("GET", "/console/clients?cursor=" .. os.getenv("BENCH_CURSOR"), headers, nil)
  else
    error("BENCH_CONSOLE_PAGE must be first, search or deep, not " .. page)
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

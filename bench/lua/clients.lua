-- client_credentials spread evenly over many clients: BENCH_CREDENTIALS_FILE holds one
-- HTTP Basic credential, base64(client_id:secret), per line (thetasecure-bench seed
-- --credentials-out); BENCH_CLIENTS (default: every line) is how many of them to use.
-- Each request names the next client in turn, so N clients each get 1/N of the load and
-- consecutive requests never share a client. Every wrk thread walks the same cycle from
-- its own offset (thread k of BENCH_WRK_THREADS starts k/T of the way round), so threads
-- do not send the same client at the same moment. Requests are formatted once, in init.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local threads_seen = 0
function setup(thread)
  thread:set("thread_index", threads_seen)
  threads_seen = threads_seen + 1
end

local requests = {}
local next_index = 0

function init(args)
  local limit = tonumber(os.getenv("BENCH_CLIENTS") or "0")
  for line in io.lines(os.getenv("BENCH_CREDENTIALS_FILE")) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("POST", "/oauth2/token", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Authorization"] = "Basic " .. line,
      }, "grant_type=client_credentials")
      if limit > 0 and #requests >= limit then break end
    end
  end
  assert(#requests > 0, "no credentials in BENCH_CREDENTIALS_FILE")
  assert(limit == 0 or #requests == limit,
    string.format("BENCH_CLIENTS=%d but the file holds %d credentials", limit, #requests))
  local threads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  -- BENCH_CLIENT_START shifts the cycle, so that short runs back to back (BENCH_TRACE)
  -- do not all send the same first clients.
  local start = tonumber(os.getenv("BENCH_CLIENT_START") or "0")
  next_index = (start + math.floor((thread_index or 0) * #requests / threads)) % #requests
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

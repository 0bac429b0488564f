-- The sign-in form as a browser posts it: the bootstrap admin's username and password
-- (BENCH_PASSWORD), the CSRF token (BENCH_CSRF) in the form and in its cookie.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local function form_escape(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local csrf = os.getenv("BENCH_CSRF")
wrk.method = "POST"
wrk.path = "/login"
wrk.body = "username=admin&password=" .. form_escape(os.getenv("BENCH_PASSWORD")) ..
  "&csrf_token=" .. form_escape(csrf) .. "&return_to=%2F"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "ts_csrf=" .. csrf

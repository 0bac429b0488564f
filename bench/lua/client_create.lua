-- Durable client creation through the admin API; BENCH_BEARER = an admin access token.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.path = "/api/v1/clients"
wrk.body = '{"client_name":"bench","grant_types":["client_credentials"],"scope":"directory.read"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_BEARER")

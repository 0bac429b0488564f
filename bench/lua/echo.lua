-- POST / with a small JSON body: the echo baseline and the single-row insert server.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.path = "/"
wrk.body = '{"bench":true}'
wrk.headers["Content-Type"] = "application/json"

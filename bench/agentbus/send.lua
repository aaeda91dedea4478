-- wrk script for bench/scenarios/60-agent-bus.sh: sustained agent-bus sends
-- through the gateway.
--
--   wrk -t2 -c50 -d5s --latency -s send.lua http://127.0.0.1:PORT -- PREFIX AGENTS
--
-- Every request is POST /api/agents/PREFIX-<n mod AGENTS>/messages with a
-- small JSON message (spread over AGENTS agents, default 16, as many agents
-- would be). Only 201 Created counts as an accepted send: done() prints
--   agentbus: created C other O duration_us D
-- (O: every other status), which the scenario turns into sends/s.

local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    prefix = args[1] or "bench-load"
    agents = tonumber(args[2] or "16")
    n = 0
    created = 0
    other = 0
end

function request()
    n = n + 1
    local path = "/api/agents/" .. prefix .. "-" .. ((n + tid) % agents) .. "/messages"
    local body = '{"payload":{"n":' .. n .. ',"kind":"bench","text":"hello agent"},"type":"bench"}'
    return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
    if status == 201 then
        created = created + 1
    else
        other = other + 1
    end
end

function done(summary, latency, requests)
    local c, o = 0, 0
    for _, t in ipairs(threads) do
        c = c + t:get("created")
        o = o + t:get("other")
    end
    io.write(string.format("agentbus: created %d other %d duration_us %d\n",
                           c, o, summary.duration))
end

/*  agentbus_scripts: the bus's Lua scripts, and loading them into Redis.
 *
 *  Every operation is one script, run with EVALSHA, so each is atomic (a
 *  message is persisted, counted against its bound and announced in one
 *  step) and every request costs one reply in the batch's pipeline, except
 *  sends: those of a batch share a few calls of SEND (one reply each).
 *  Keys are derived inside the scripts from agent and topic names (the
 *  caller validated them): fine on a single Redis, not cluster-safe.
 *
 *  Stream entries hold: m (the message's msgpack map: from, topic, type,
 *  payload, ttl, as given), c (created, us since the epoch by Redis's
 *  clock), e (expiry in the same unit, 0 for none). Dead letters add i (the
 *  original id), r (reason) and d (deliveries so far).
 */
#include "agentbus_internal.h"

#include <string.h>

/*  Shared by every script: key names, Redis's clock, the known agents, and
 *  adding an entry (consumer group created on first use, receivers woken;
 *  nonempty: the stream is known to exist, skip the check). The caller
 *  makes the agent known: only it knows whether that is within
 *  AGENTBUS_MAX_AGENTS. */
#define PRELUDE                                                                 \
    "local P = 'hsn:ab:' "                                                      \
    "local PR = {'h', 'n', 'l'} "                                               \
    "local function qkey (a, p) return P .. 'q:' .. a .. ':' .. p end "         \
    "local function num (x) return string.format ('%.0f', x) end "              \
    "local function now_us () local t = redis.call ('TIME') "                   \
    "  return tonumber (t[1]) * 1000000 + tonumber (t[2]) end "                 \
    "local function depth (a) local d = 0 "                                     \
    "  for _, p in ipairs (PR) do d = d + redis.call ('XLEN', qkey (a, p)) end "\
    "  return d end "                                                           \
    "local function known (a) "                                                 \
    "  return redis.call ('SISMEMBER', P .. 'agents', a) == 1 end "             \
    "local function nagents () return redis.call ('SCARD', P .. 'agents') end " \
    "local function add (a, p, blob, c, e, nonempty) local k = qkey (a, p) "    \
    "  if not nonempty and redis.call ('EXISTS', k) == 0 then "                 \
    "    redis.pcall ('XGROUP', 'CREATE', k, 'hsn', '0', 'MKSTREAM') end "      \
    "  local id = redis.call ('XADD', k, '*', 'm', blob, 'c', c, 'e', e) "      \
    "  redis.call ('PUBLISH', P .. 'wake', a) "                                 \
    "  return id end "                                                          \
    "local function fields (f) local r = {} "                                   \
    "  for i = 1, #f, 2 do r[f[i]] = f[i + 1] end return r end "

/*  A batch of sends, one script call for many (the bus groups the sends of
 *  one wake-up): what each send needs to know about its agent (known?
 *  queue lengths) is asked once per agent, Redis's clock once, and every
 *  agent given a message is woken once, after all are written. Each
 *  message is checked and written as if sent on its own, in order.
 *  ARGV: max_queue, max_agents, then per message: agent, p, blob, ttl_s
 *  (0: none). -> per message two entries: 1, stream id; 0, agent (its
 *  queue is full); -1, agent (not known and max_agents are); -2, Redis's
 *  error (e.g. OOM: that message was not written, the others are
 *  unaffected). Nothing is written for a message refused. */
static const char SEND[] = PRELUDE
    "local maxq, maxa = tonumber (ARGV[1]), tonumber (ARGV[2]) "
    "local c = now_us () "
    "local cs = num (c) "
    "local facts, woken, wake, out, count = {}, {}, {}, {}, nil "
    "for i = 3, #ARGV, 4 do "
    "  local a, p, ttl = ARGV[i], ARGV[i + 1], tonumber (ARGV[i + 3]) "
    "  local f = facts[a] "
    "  if not f then "
    "    f = {k = known (a), d = 0, len = {}} "
    "    for _, q in ipairs (PR) do local x = redis.call ('XLEN', qkey (a, q)) "
    "      f.len[q] = x f.d = f.d + x end "
    "    facts[a] = f "
    "  end "
    "  local r1, r2 "
    "  if not f.k then count = count or nagents () "
    "    if count >= maxa then r1, r2 = -1, a end end "
    "  if not r1 and f.d >= maxq then r1, r2 = 0, a end "
    "  if not r1 and not f.k then "
    "    local s = redis.pcall ('SADD', P .. 'agents', a) "
    "    if type (s) == 'table' then r1, r2 = -2, tostring (s.err) "
    "    else f.k = true count = count + 1 end "
    "  end "
    "  if not r1 then "
    "    local k = qkey (a, p) "
    "    if f.len[p] == 0 and redis.call ('EXISTS', k) == 0 then "
    "      redis.pcall ('XGROUP', 'CREATE', k, 'hsn', '0', 'MKSTREAM') end "
    "    local e = 0 if ttl > 0 then e = c + ttl * 1000000 end "
    "    local id = redis.pcall ('XADD', k, '*', 'm', ARGV[i + 2], 'c', cs, 'e', num (e)) "
    "    if type (id) == 'table' then r1, r2 = -2, tostring (id.err) "
    "    else r1, r2 = 1, id f.d = f.d + 1 f.len[p] = f.len[p] + 1 "
    "      if not woken[a] then woken[a] = true wake[#wake + 1] = a end end "
    "  end "
    "  out[#out + 1] = r1 out[#out + 1] = r2 "
    "end "
    "for _, a in ipairs (wake) do redis.call ('PUBLISH', P .. 'wake', a) end "
    "return out";

/*  Fan-out, all or none. ARGV: set key suffix ('sub:<topic>' or 'agents'),
 *  p, blob, ttl_s, max_queue, max_agents. -> {1, recipients}, {0, full
 *  agent} or {-1, an agent that would pass max_agents}. Subscribers are
 *  known agents (subscribe adds both in one step), so a publish adds none
 *  unless hsn:ab:agents was changed behind the bus's back; that is checked
 *  all the same. A broadcast's recipients are the known agents themselves.
 *  Its cost is linear in the recipients (about 6 commands each), bounded
 *  by AGENTBUS_MAX_AGENTS. */
static const char FANOUT[] = PRELUDE
    "local m = redis.call ('SMEMBERS', P .. ARGV[1]) "
    "local p, max, all = ARGV[2], tonumber (ARGV[5]), ARGV[1] == 'agents' "
    "local new, nnew, has = {}, 0, {} "
    "for i, a in ipairs (m) do "
    "  if not all and not known (a) then new[i] = true nnew = nnew + 1 end "
    "  local d = 0 "
    "  for _, q in ipairs (PR) do local x = redis.call ('XLEN', qkey (a, q)) "
    "    d = d + x if q == p then has[i] = x > 0 end end "
    "  if d >= max then return {0, a} end "
    "end "
    "if nnew > 0 and nagents () + nnew > tonumber (ARGV[6]) then "
    "  for i, a in ipairs (m) do if new[i] then return {-1, a} end end end "
    "local c, ttl = now_us (), tonumber (ARGV[4]) "
    "local e = 0 if ttl > 0 then e = c + ttl * 1000000 end "
    "for i, a in ipairs (m) do "
    "  if new[i] then redis.call ('SADD', P .. 'agents', a) end "
    "  add (a, p, ARGV[3], num (c), num (e), has[i]) end "
    "return {1, #m}";

/*  ARGV: topic, agent, max_agents, max_subscriptions. The agent's topics
 *  are indexed in hsn:ab:topics:<agent> so their number can be bounded.
 *  -> 1 when newly subscribed, 0 when it already was, -1 when the agent is
 *  not known and max_agents are, -2 when it has max_subscriptions topics. */
static const char SUBSCRIBE[] = PRELUDE
    "local t, a = ARGV[1], ARGV[2] "
    "local sk, tk = P .. 'sub:' .. t, P .. 'topics:' .. a "
    "if redis.call ('SISMEMBER', sk, a) == 1 then return 0 end "
    "local new = not known (a) "
    "if new and nagents () >= tonumber (ARGV[3]) then return -1 end "
    "if redis.call ('SCARD', tk) >= tonumber (ARGV[4]) then return -2 end "
    "if new then redis.call ('SADD', P .. 'agents', a) end "
    "redis.call ('SADD', tk, t) "
    "return redis.call ('SADD', sk, a)";

/*  ARGV: topic, agent. -> 1 when it was subscribed. */
static const char UNSUBSCRIBE[] = PRELUDE
    "redis.call ('SREM', P .. 'topics:' .. ARGV[2], ARGV[1]) "
    "return redis.call ('SREM', P .. 'sub:' .. ARGV[1], ARGV[2])";

/*  ARGV: agent, max, visibility_ms, max_deliveries, dlq_max, reply bytes,
 *  max_agents. An agent not known becomes known, unless max_agents are:
 *  then it is not added (a poll must not register agents past the bound)
 *  and, having no streams, gets an empty list.
 *  For h, n, l in turn: redeliveries (pending entries idle for the
 *  visibility timeout, claimed again), then new entries, until max. A
 *  message past its ttl, or one that would be delivered more than
 *  max_deliveries times, goes to the dead-letter stream instead. Messages
 *  that would make the reply larger than its budget (a frame has a hard
 *  limit) are given back as they were: claimable at once, their delivery
 *  count unchanged.
 *  -> {now_us, dead, then per message: p, id, deliveries, m, c}. The work is
 *  bounded: at most max + 1000 entries are looked at. */
static const char RECEIVE[] = PRELUDE
    "local a, max, vt, maxdel = ARGV[1], tonumber (ARGV[2]), ARGV[3], tonumber (ARGV[4]) "
    "local limit, bytes, full = tonumber (ARGV[6]), 0, false "
    "local now = now_us () "
    "local out, n, dead, budget = {now, 0}, 0, 0, max + 1000 "
    "if nagents () < tonumber (ARGV[7]) then redis.call ('SADD', P .. 'agents', a) end "
    "local function bury (p, k, id, f, reason, d) "
    "  redis.call ('XADD', P .. 'dlq:' .. a, 'MAXLEN', '~', ARGV[5], '*', 'm', f.m or '', "
    "              'c', f.c or '0', 'i', p .. '-' .. id, 'r', reason, 'd', d) "
    "  redis.call ('XACK', k, 'hsn', id) redis.call ('XDEL', k, id) dead = dead + 1 end "
    "local function take (p, k, id, f, d) "
    "  local e = tonumber (f.e or '0') or 0 "
    "  if e > 0 and now >= e then bury (p, k, id, f, 'expired', d - 1) return end "
    "  local size = #(f.m or '') + 256 "
    "  if full or (n > 0 and bytes + size > limit) then full = true "
    "    redis.call ('XCLAIM', k, 'hsn', 'c', 0, id, 'IDLE', vt, 'RETRYCOUNT', d - 1, 'JUSTID') "
    "    return end "
    "  bytes = bytes + size n = n + 1 "
    "  out[#out + 1] = p out[#out + 1] = id out[#out + 1] = d "
    "  out[#out + 1] = f.m or '' out[#out + 1] = f.c or '0' end "
    "for _, p in ipairs (PR) do "
    "  local k = qkey (a, p) "
    "  if n < max and budget > 0 and not full and redis.call ('EXISTS', k) == 1 then "
    "    while n < max and budget > 0 and not full do "
    "      local want = math.min (max - n, budget) "
    "      local pend = redis.call ('XPENDING', k, 'hsn', 'IDLE', vt, '-', '+', want) "
    "      budget = budget - #pend "
    "      for _, x in ipairs (pend) do "
    "        if full then break end "
    "        local id, d = x[1], tonumber (x[4]) "
    "        if d >= maxdel then "
    "          local r = redis.call ('XRANGE', k, id, id) "
    "          if #r > 0 then bury (p, k, id, fields (r[1][2]), 'max_deliveries', d) "
    "          else redis.call ('XACK', k, 'hsn', id) end "
    "        else "
    "          local c = redis.call ('XCLAIM', k, 'hsn', 'c', vt, id) "
    "          if #c > 0 and c[1] then take (p, k, id, fields (c[1][2]), d + 1) "
    "          else redis.call ('XACK', k, 'hsn', id) end "
    "        end "
    "      end "
    "      if #pend < want then break end "
    "    end "
    "    while n < max and budget > 0 and not full do "
    "      local want = math.min (max - n, budget) "
    "      local r = redis.call ('XREADGROUP', 'GROUP', 'hsn', 'c', 'COUNT', want, "
    "                            'STREAMS', k, '>') "
    "      if not r then break end "
    "      local es = r[1][2] "
    "      budget = budget - #es "
    "      for _, x in ipairs (es) do take (p, k, x[1], fields (x[2]), 1) end "
    "      if #es < want then break end "
    "    end "
    "  end "
    "end "
    "out[2] = dead "
    "return out";

/*  ARGV: agent, then pairs p, stream id. -> how many were pending (acked
 *  and deleted); ids not pending are left alone. */
static const char ACK[] = PRELUDE
    "local n = 0 "
    "for i = 2, #ARGV, 2 do "
    "  local k = qkey (ARGV[1], ARGV[i]) "
    "  local r = redis.pcall ('XACK', k, 'hsn', ARGV[i + 1]) "
    "  if r == 1 then redis.call ('XDEL', k, ARGV[i + 1]) n = n + 1 end "
    "end "
    "return n";

/*  ARGV: max. -> per agent (by name, at most max): {agent, depth h, n, l,
 *  pending, ms since the oldest pending message was created (-1: none)}.
 *  An empty stream has nothing pending (every script acks before it
 *  deletes), so it costs one XLEN. */
static const char LIST[] = PRELUDE
    "local m = redis.call ('SMEMBERS', P .. 'agents') "
    "table.sort (m) "
    "local now_ms = math.floor (now_us () / 1000) "
    "local out = {} "
    "for i = 1, math.min (#m, tonumber (ARGV[1])) do "
    "  local a = m[i] "
    "  local row, pend, oldest = {a}, 0, -1 "
    "  for _, p in ipairs (PR) do "
    "    local k = qkey (a, p) "
    "    local x = redis.call ('XLEN', k) "
    "    row[#row + 1] = x "
    "    local s = x > 0 and redis.pcall ('XPENDING', k, 'hsn') "
    "    if type (s) == 'table' and tonumber (s[1]) and tonumber (s[1]) > 0 then "
    "      pend = pend + s[1] "
    "      local ms = tonumber (string.match (s[2], '^(%d+)')) or now_ms "
    "      oldest = math.max (oldest, now_ms - ms) "
    "    end "
    "  end "
    "  row[#row + 1] = pend row[#row + 1] = oldest "
    "  out[#out + 1] = row "
    "end "
    "return out";

/*  ARGV: agent, max, reply bytes. -> XRANGE of the dead letters, oldest
 *  first, cut where the reply would pass its budget (at least one). */
static const char DEAD[] = PRELUDE
    "local r = redis.call ('XRANGE', P .. 'dlq:' .. ARGV[1], '-', '+', 'COUNT', ARGV[2]) "
    "local out, bytes, limit = {}, 0, tonumber (ARGV[3]) "
    "for i, x in ipairs (r) do "
    "  local size = 256 "
    "  for _, v in ipairs (x[2]) do size = size + #v end "
    "  if i > 1 and bytes + size > limit then break end "
    "  bytes = bytes + size out[#out + 1] = x "
    "end "
    "return out";

/*  The reaper's tick. ARGV: owner token, lease_ms, SSCAN cursor, count,
 *  visibility_ms. Only the holder of the lease hsn:ab:reaper works (so
 *  gauges are reported by one replica, not summed over all).
 *  -> {0} when another replica holds it, else {1, next cursor, then per
 *  agent scanned: agent, depth}; every agent with a pending entry idle for
 *  the visibility timeout is woken. */
static const char REAP[] = PRELUDE
    "local L = P .. 'reaper' "
    "local holder = redis.call ('GET', L) "
    "if holder == ARGV[1] then redis.call ('PEXPIRE', L, ARGV[2]) "
    "elseif not holder then redis.call ('SET', L, ARGV[1], 'PX', ARGV[2]) "
    "else return {0} end "
    "local s = redis.call ('SSCAN', P .. 'agents', ARGV[3], 'COUNT', ARGV[4]) "
    "local out = {1, s[1]} "
    "for _, a in ipairs (s[2]) do "
    "  local d, wake = 0, false "
    "  for _, p in ipairs (PR) do "
    "    local k = qkey (a, p) "
    "    local x = redis.call ('XLEN', k) "
    "    d = d + x "
    "    if x > 0 and not wake then "
    "      local r = redis.pcall ('XPENDING', k, 'hsn', 'IDLE', ARGV[5], '-', '+', 1) "
    "      wake = type (r) == 'table' and #r > 0 "
    "    end "
    "  end "
    "  if wake then redis.call ('PUBLISH', P .. 'wake', a) end "
    "  out[#out + 1] = a out[#out + 1] = d "
    "end "
    "return out";

static const char *const SCRIPTS[AB_SCRIPT__MAX] = {
    [AB_SCRIPT_SEND] = SEND,
    [AB_SCRIPT_FANOUT] = FANOUT,
    [AB_SCRIPT_SUBSCRIBE] = SUBSCRIBE,
    [AB_SCRIPT_UNSUBSCRIBE] = UNSUBSCRIBE,
    [AB_SCRIPT_RECEIVE] = RECEIVE,
    [AB_SCRIPT_ACK] = ACK,
    [AB_SCRIPT_LIST] = LIST,
    [AB_SCRIPT_DEAD] = DEAD,
    [AB_SCRIPT_REAP] = REAP,
};

int
ab_scripts_load (redisContext *c, char sha[][AB_SHA_LEN + 1])
{
    for (int i = 0; i < AB_SCRIPT__MAX; i++)
        redisAppendCommand (c, "SCRIPT LOAD %s", SCRIPTS[i]);
    int rc = 0;
    for (int i = 0; i < AB_SCRIPT__MAX; i++) {
        redisReply *r = NULL;
        if (redisGetReply (c, (void **) &r) != REDIS_OK)
            return -EIO;                /* the connection is unusable now */
        if (r->type == REDIS_REPLY_STRING && r->len == AB_SHA_LEN)
            memcpy (sha[i], r->str, AB_SHA_LEN + 1);
        else
            rc = -EPROTO;
        freeReplyObject (r);
    }
    return rc;
}

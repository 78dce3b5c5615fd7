-- wrk script for bench/webhooks.py: hands out pre-signed requests, each exactly once, and times
-- each one itself (wrk's own percentiles are corrected for coordinated omission, not raw).
--
--   wrk -t N -c N -d 600s -s bench/webhooks.lua URL -- REQUESTS OFFSETS N [RATE]
--
-- One connection per wrk thread, so a thread's request and response belong together. The threads
-- take the next request from one shared counter (a pthread mutex in wrk's own memory), as a queue:
-- closed loop (each connection sends its next request when the answer to the last one is in), or
-- paced at RATE requests/s over all connections. REQUESTS holds the raw HTTP requests back to
-- back, OFFSETS one "offset length" line per request. When every request is answered, the last
-- thread wakes wrk's main thread (SIGINT, which wrk handles by ending the run) and done() prints
-- one line: RESULT {json}.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } cf_timespec;
int clock_gettime(int clk, cf_timespec *tp);
typedef struct { char opaque[64]; } cf_mutex;
int pthread_mutex_lock(cf_mutex *m);
int pthread_mutex_unlock(cf_mutex *m);
typedef struct { cf_mutex lock; int64_t next; int64_t finished; double start; } cf_shared;
int getpid(void);
long syscall(long number, ...);
]]

local CLOCK_MONOTONIC, SYS_TGKILL, SIGINT = 1, 234, 2
local ts = ffi.new("cf_timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- ---- the main state: setup() and done() -------------------------------------------------------
local threads = {}
local shared_owner = nil  -- keeps the shared block alive for the whole run

function setup(thread)
  if shared_owner == nil then
    shared_owner = ffi.new("cf_shared[1]")  -- zeroed: an unlocked glibc mutex
  end
  thread:set("shared_addr", tonumber(ffi.cast("uintptr_t", shared_owner)))
  table.insert(threads, thread)
end

-- ---- each thread's state ----------------------------------------------------------------------
local shared, data, offsets, lengths, total, rate, thread_count
local mine, started = nil, nil
latencies, statuses, first, last = {}, {}, nil, nil  -- globals: done() reads them with thread:get

function init(args)
  shared = ffi.cast("cf_shared *", ffi.cast("uintptr_t", shared_addr))
  data = assert(io.open(args[1], "rb"))
  offsets, lengths = {}, {}
  for line in io.lines(args[2]) do
    local o, n = line:match("^(%d+) (%d+)$")
    offsets[#offsets + 1], lengths[#lengths + 1] = tonumber(o), tonumber(n)
  end
  total = #offsets
  thread_count = tonumber(args[3])
  rate = tonumber(args[4] or "0") or 0
end

local function take()
  ffi.C.pthread_mutex_lock(shared.lock)
  local k = tonumber(shared.next)
  shared.next = shared.next + 1
  if k == 0 then shared.start = now() end
  local start = shared.start
  ffi.C.pthread_mutex_unlock(shared.lock)
  return k, start
end

local function finish()
  ffi.C.pthread_mutex_lock(shared.lock)
  shared.finished = shared.finished + 1
  local all = tonumber(shared.finished) == thread_count
  ffi.C.pthread_mutex_unlock(shared.lock)
  wrk.thread:stop()
  if all then
    local pid = ffi.C.getpid()
    ffi.C.syscall(SYS_TGKILL, ffi.cast("long", pid), ffi.cast("long", pid), ffi.cast("long", SIGINT))
  end
end

-- called before each request: take the next one (or stop), and wait for its turn when paced
function delay()
  local k, start = take()
  if k >= total then
    mine = nil
    finish()
    return 3600000
  end
  mine = k
  if rate > 0 then
    local wait = start + k / rate - now()
    if wait > 0 then return math.floor(wait * 1000 + 0.5) end
  end
  return 0
end

function request()
  if mine == nil then  -- stopped: wrk may still ask once; never sent (the loop has stopped)
    return "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
  end
  data:seek("set", offsets[mine + 1])
  local raw = data:read(lengths[mine + 1])
  started = now()
  if first == nil then first = started end
  return raw
end

function response(status, headers, body)
  local t = now()
  latencies[#latencies + 1] = t - started
  last = t
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local all, counts, first_at, last_at = {}, {}, nil, nil
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("latencies") or {}) do all[#all + 1] = v end
    for status, n in pairs(t:get("statuses") or {}) do counts[status] = (counts[status] or 0) + n end
    local f, l = t:get("first"), t:get("last")
    if f ~= nil and (first_at == nil or f < first_at) then first_at = f end
    if l ~= nil and (last_at == nil or l > last_at) then last_at = l end
  end
  table.sort(all)
  local parts = {}
  for status, n in pairs(counts) do parts[#parts + 1] = string.format('"%d": %d', status, n) end
  local n = #all
  local function pick(q) return n > 0 and all[math.max(1, math.floor(n * q))] * 1000 or 0 end
  local elapsed = (last_at or 0) - (first_at or 0)
  io.write(string.format('RESULT {"rps": %.3f, "p50": %.4f, "p99": %.4f, "count": %d, "elapsed": %.4f, '
    .. '"statuses": {%s}, "errors": %d}\n', elapsed > 0 and n / elapsed or 0, pick(0.5), pick(0.99), n, elapsed,
    table.concat(parts, ", "), summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end

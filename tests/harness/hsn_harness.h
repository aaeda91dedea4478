/*  hsn_harness: real servers and processes for hsn tests.
 *
 *  Every test binary links libhsn-harness.a (every .c in tests/harness).
 *  It starts redis-server, PostgreSQL and the project's own binaries on free
 *  ports in private temporary directories, waits for conditions with a
 *  deadline (never a bare sleep), and talks HTTP through libcurl.
 *
 *  Rules the harness keeps, so tests can run in parallel and leave nothing
 *  behind:
 *    - no fixed ports: every server gets a port from hsn_free_port () and a
 *      start that loses the port race is retried on another one;
 *    - every server binds 127.0.0.1 only;
 *    - temp dirs are mkdtemp'd under $TMPDIR (or /tmp) and removed on stop
 *      (set HSN_KEEP_TMP=1 to keep them for a post-mortem);
 *    - every started process gets PR_SET_PDEATHSIG(SIGKILL): when the thread
 *      that started it dies (a crashing test), it dies too. Start servers
 *      from the thread that lives as long as they should (the test itself,
 *      or a Check fixture), and kill/restart/stop them from the same process
 *      that started them: with CK_FORK a server started in an unchecked
 *      fixture (runner process) can be used, but not restarted, by a test.
 *
 *  Functions that return int return 0 or a negative errno value, unless said
 *  otherwise. Functions that return a pointer return NULL on failure with a
 *  reason on stderr.
 */
#ifndef HSN_HARNESS_H
#define HSN_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

/* ---- waiting, ports, temp dirs, project binaries ------------------------- */

/*  Call cond (arg) every 2 ms until it returns true or timeout_ms have passed
 *  (cond is called once more at the deadline). Returns whether cond became
 *  true. cond is called at least once, even with timeout_ms <= 0. */
bool hsn_wait_until (bool (*cond) (void *arg), void *arg, int timeout_ms);

/*  hsn_now_ms (): milliseconds on the monotonic clock, from common/. */
#include "hsn_time.h"

/*  Could the port (*(int *) arg) on 127.0.0.1 be bound right now, with
 *  SO_REUSEADDR as servers do? A condition for hsn_wait_until before a
 *  server restarts on its old port. */
bool hsn_port_bindable (void *arg);

/*  A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it
 *  back, close). Returns the port (1..65535) or a negative errno value.
 *  Another process can take it before you bind it: retry on collision. */
int hsn_free_port (void);

/*  Create a fresh private directory $TMPDIR/hsn-<tag>-XXXXXX (/tmp when
 *  TMPDIR is unset), mode 0700, with an absolute, symlink-free path.
 *  Returns the path (caller frees; remove it with hsn_rm_rf) or NULL. */
char *hsn_tmpdir (const char *tag);

/*  Remove path and everything below it, without following symlinks.
 *  A path that does not exist is not an error. Returns 0 or -errno. */
int hsn_rm_rf (const char *path);

/*  Remove a dir made by hsn_tmpdir, unless HSN_KEEP_TMP is set in the
 *  environment (then only name it on stderr). NULL-safe. */
void hsn_tmpdir_remove (const char *path);

/*  Read a whole file. Returns a NUL-terminated buffer (caller frees; *len,
 *  if not NULL, gets the byte count without the NUL) or NULL (errno set). */
char *hsn_read_file (const char *path, size_t *len);

/*  Create or truncate path and write the string data into it. */
int hsn_write_file (const char *path, const char *data);

/*  Path of the project binary <BUILD>/bin/<name> (e.g. "hsn-gateway"):
 *  $HSN_BIN_DIR/<name> when HSN_BIN_DIR is set, else derived from
 *  /proc/self/exe (test binaries live in <BUILD>/tests/..., so <BUILD> is the
 *  parent of the nearest ancestor directory named "tests"). The string lives
 *  until the process exits. Never NULL (falls back to "build/bin/<name>"). */
const char *hsn_bin (const char *name);

/* ---- processes -------------------------------------------------------- */

typedef struct hsn_proc_t hsn_proc_t;

/*  Options for hsn_proc_start_opts; zero-initialise, then set what you need. */
typedef struct {
    const char *log_path;   /* append stdout+stderr here; NULL: a log file in
                               a fresh temp dir the proc owns and removes */
    const char *cwd;        /* working directory for the child; NULL: ours */
    bool set_ids;           /* run the child as uid/gid (needs root) */
    uid_t uid;
    gid_t gid;
} hsn_proc_opts_t;

/*  Start path (searched in PATH when it has no '/') with argv (NULL-
 *  terminated, argv[0] included). The child's environment is ours plus
 *  env_extra ("K=V" entries, NULL-terminated, may be NULL) overriding
 *  same-named variables; an entry "K" without '=' removes K. stdin is
 *  /dev/null, stdout and stderr go to a log file (hsn_proc_log_path). The
 *  child gets its own process group and PR_SET_PDEATHSIG(SIGKILL). Returns
 *  NULL when fork or exec fails (errno set, reason on stderr). */
hsn_proc_t *hsn_proc_start (const char *path, char *const argv[],
                            char *const env_extra[]);

/*  hsn_proc_start with options (opts may be NULL). */
hsn_proc_t *hsn_proc_start_opts (const char *path, char *const argv[],
                                 char *const env_extra[],
                                 const hsn_proc_opts_t *opts);

/*  The child's pid (also its process group id). */
pid_t hsn_proc_pid (hsn_proc_t *p);

/*  Path of the file that collects the child's stdout and stderr. */
const char *hsn_proc_log_path (hsn_proc_t *p);

/*  Send sig to the child. Returns 0, or -ESRCH once it has exited. */
int hsn_proc_signal (hsn_proc_t *p, int sig);

/*  Send sig to the child's whole process group (the child and whatever it
 *  forked that did not leave the group). Returns 0 or -ESRCH. */
int hsn_proc_signal_group (hsn_proc_t *p, int sig);

/*  Crash the child and everything it forked: SIGSTOP it, find its
 *  descendants in /proc (also those that left its process group, like
 *  postgres backends, which call setsid), SIGKILL them all and its group,
 *  wait until they are dead and reap the ones re-parented to us. Returns 0,
 *  -ESRCH if it had already exited, -ETIMEDOUT if something survived 5 s. */
int hsn_proc_kill_tree (hsn_proc_t *p);

/*  Whether a live (not zombie) process remains in the child's group. */
bool hsn_proc_group_alive (hsn_proc_t *p);

/*  Wait up to timeout_ms for the child to exit and reap it. Returns 0 once it
 *  has exited (*status, if not NULL, gets the waitpid status), -ETIMEDOUT
 *  when still running at the deadline. Calling it again after the exit
 *  returns 0 and the same status. */
int hsn_proc_wait (hsn_proc_t *p, int timeout_ms, int *status);

/*  Whether the child is still running (reaps it if it has exited). */
bool hsn_proc_alive (hsn_proc_t *p);

/*  Whether the log holds needle (searched as bytes, whole file). */
bool hsn_proc_log_contains (hsn_proc_t *p, const char *needle);

/*  Wait up to timeout_ms for the log to contain needle. */
bool hsn_proc_wait_log (hsn_proc_t *p, const char *needle, int timeout_ms);

/*  Copy the last max_bytes of the log (all of it if 0) to out, framed by
 *  marker lines naming the process; for test failure reports. */
void hsn_proc_dump_log (hsn_proc_t *p, FILE *out, size_t max_bytes);

/*  Stop and free: SIGTERM, wait up to 5 s, then SIGKILL; then SIGKILL the
 *  rest of its process group, wait for it and reap those of its members that
 *  were re-parented to us (the harness makes the process that starts
 *  children a child subreaper, PR_SET_CHILD_SUBREAPER). Removes the log's
 *  temp dir if the proc owns it (unless HSN_KEEP_TMP is set). NULL-safe;
 *  sets *p_p to NULL. */
void hsn_proc_destroy (hsn_proc_t **p_p);

/* ---- redis ------------------------------------------------------------ */

typedef struct hsn_redis_t hsn_redis_t;

/*  Start redis-server on a free port in a temp dir (dir, port, bind
 *  127.0.0.1, save "", appendonly no, daemonize no, protected-mode no), with
 *  the lines of extra_conf (may be NULL, e.g. "appendonly yes\n") appended
 *  so they override those. Returns once it answers PING (and is ours), or
 *  NULL when it exits early on 8 fresh ports in a row (collisions or bad
 *  extra_conf; its log goes to stderr) or does not answer within 10 s. */
hsn_redis_t *hsn_redis_start (const char *extra_conf);

/*  extra_conf for the persistence policy hsn ships (docker-compose.yml,
 *  deploy/run-local.sh, deploy/k8s/redis.yaml): AOF on, fsync before every
 *  reply, so a write Redis answered survives a crash of redis-server (a
 *  test can SIGKILL it; AOF on is what that needs) and of the machine
 *  (fsync `always` is what that needs; no test can pull the plug). */
#define HSN_REDIS_DURABLE_CONF "appendonly yes\nappendfsync always\n"

/*  Its TCP port. */
int hsn_redis_port (hsn_redis_t *r);

/*  "redis://127.0.0.1:PORT". */
const char *hsn_redis_url (hsn_redis_t *r);

/*  Its temp dir (holds redis.conf, redis.log and any dump/AOF files). */
const char *hsn_redis_dir (hsn_redis_t *r);

/*  The current redis-server process (for its pid and log); after a kill it
 *  is the dead one until hsn_redis_restart replaces it. */
hsn_proc_t *hsn_redis_proc (hsn_redis_t *r);

/*  Send sig to redis-server (SIGKILL: crash it; the dir is kept). For
 *  SIGKILL, SIGTERM, SIGINT and SIGQUIT waits up to 10 s for it to exit.
 *  Returns 0, -ESRCH when it is not running, -ETIMEDOUT. */
int hsn_redis_kill (hsn_redis_t *r, int sig);

/*  Start it again with the same port, dir and config (stopping it first if
 *  it still runs), retrying while the port is briefly busy; returns once it
 *  answers PING. Returns 0, -ETIMEDOUT (20 s) or another -errno. */
int hsn_redis_restart (hsn_redis_t *r);

/*  A new hiredis connection to it (2 s connect timeout). Returns NULL if it
 *  cannot connect. Caller frees with redisFree. */
redisContext *hsn_redis_connect (hsn_redis_t *r);

/*  Stop it (SIGTERM, then SIGKILL after 5 s), remove the dir, free.
 *  NULL-safe; sets *r_p to NULL. */
void hsn_redis_stop (hsn_redis_t **r_p);

/* ---- PostgreSQL ------------------------------------------------------- */

typedef struct hsn_pg_t hsn_pg_t;

/*  initdb (-A trust, -U hsn, UTF8, locale C, --no-sync) into a temp dir,
 *  start postgres on a free port (listen_addresses 127.0.0.1, unix socket in
 *  the temp dir, fsync off), wait until a connection succeeds, create
 *  database "hsn". As root initdb and the server run as the "postgres" user
 *  (or "nobody"), which owns the temp dir (under /tmp if that user cannot
 *  reach $TMPDIR). Takes about a second. Returns NULL on failure (no server
 *  binaries, initdb failing or over 60 s, no answer within 30 s; logs go to
 *  stderr). */
hsn_pg_t *hsn_pg_start (void);

/*  "postgresql://hsn@127.0.0.1:PORT/hsn". */
const char *hsn_pg_url (hsn_pg_t *pg);

/*  Its TCP port. */
int hsn_pg_port (hsn_pg_t *pg);

/*  The current postmaster process (for its pid and log, which also holds
 *  initdb's output); after a kill the dead one until hsn_pg_restart. */
hsn_proc_t *hsn_pg_proc (hsn_pg_t *pg);

/*  Run sql (one or more statements) on database hsn over a fresh
 *  connection. Returns 0, or -EIO (message on stderr). */
int hsn_pg_exec (hsn_pg_t *pg, const char *sql);

/*  Send sig to the server. SIGKILL kills the postmaster and every backend
 *  at once (hsn_proc_kill_tree: a machine crash); other signals go to the
 *  postmaster only (SIGTERM smart, SIGINT fast, SIGQUIT immediate shutdown).
 *  For SIGKILL, SIGTERM, SIGINT, SIGQUIT waits for the postmaster to exit
 *  (10 s at most; a smart shutdown waits for clients to disconnect).
 *  Returns 0, -ESRCH when not running, -ETIMEDOUT. */
int hsn_pg_kill (hsn_pg_t *pg, int sig);

/*  Start it again on the same port and data (fast-stopping it first if it
 *  still runs), retrying while the port or old shared memory is still busy;
 *  returns once a connection succeeds. Returns 0 or -ETIMEDOUT (30 s). */
int hsn_pg_restart (hsn_pg_t *pg);

/*  Stop it (fast shutdown, then SIGKILL), remove the dir, free. NULL-safe;
 *  sets *pg_p to NULL. */
void hsn_pg_stop (hsn_pg_t **pg_p);

/* ---- HTTP ------------------------------------------------------------- */

/*  One HTTP response. body is NUL-terminated (the NUL is not counted in
 *  body_len), headers is the raw header block of the final response
 *  ("HTTP/1.1 200 OK\r\nName: value\r\n...\r\n"). The header_* fields are
 *  the parsed headers, in order; use hsn_http_header to look one up. */
typedef struct {
    long status;
    char *body;
    size_t body_len;
    char *headers;
    size_t header_count;
    char **header_names;
    char **header_values;
} hsn_http_resp_t;

/*  Send one request: method ("GET", "POST", "HEAD", ...), url, body
 *  (body_len bytes; NULL for none, which POST, PUT and PATCH send as an
 *  empty body with Content-Length: 0), headers (NULL-terminated "Name: value"
 *  array, may be NULL). Sends exactly those headers plus Host, Accept and
 *  Content-Length: curl's default Content-Type and "Expect: 100-continue"
 *  are suppressed. No redirects followed, no proxy, no automatic
 *  decompression, 10 s timeout. Returns 0 on any HTTP response (whatever its
 *  status; *out filled, free with hsn_http_resp_free), -EIO on a transport
 *  error or timeout (*out zeroed, reason on stderr). */
int hsn_http (const char *method, const char *url, const char *body,
              size_t body_len, const char *const headers[],
              hsn_http_resp_t *out);

/*  Value of the first header named name (case-insensitive), trimmed, or
 *  NULL. The string belongs to r and lives until hsn_http_resp_free. */
const char *hsn_http_header (const hsn_http_resp_t *r, const char *name);

/*  Free what hsn_http put into r and zero it. NULL-safe, idempotent. */
void hsn_http_resp_free (hsn_http_resp_t *r);

/* ---- raw sockets ------------------------------------------------------ */

/*  A raw client socket read with a deadline, for what hsn_http cannot do: a
 *  long-poll or a stream held open while the test does other things,
 *  pipelined or malformed requests, a peer that is a socketpair. What was
 *  read is in buf[0..len), always NUL-terminated (so at most cap - 1 bytes
 *  are kept; a needle is searched as a C string). eof: the peer closed, or
 *  a receive failed hard (a reset). */
typedef struct {
    int fd;
    char *buf;
    size_t len, cap;
    bool eof;
} hsn_raw_t;

/*  Connect a TCP socket to 127.0.0.1:port (blocking connect; sends nothing)
 *  with a read buffer of cap bytes (cap >= 2). Returns NULL when the socket,
 *  the connect or the allocation fails (reason on stderr). Free with
 *  hsn_raw_close. */
hsn_raw_t *hsn_raw_connect (int port, size_t cap);

/*  Wrap fd, already connected (e.g. one end of a socketpair), with a read
 *  buffer of cap bytes (cap >= 2). The returned client owns fd and closes
 *  it in hsn_raw_close. Returns NULL when cap is too small or the allocation
 *  fails (reason on stderr); fd then stays the caller's. */
hsn_raw_t *hsn_raw_adopt (int fd, size_t cap);

/*  Send all len bytes of data (MSG_NOSIGNAL; retried on EINTR and partial
 *  sends; blocks while the socket's buffer is full). Returns 0, or -errno
 *  of the failing send (-EPIPE when the peer is gone). */
int hsn_raw_send (hsn_raw_t *r, const void *data, size_t len);

/*  hsn_raw_send of the string s (without its NUL). */
int hsn_raw_say (hsn_raw_t *r, const char *s);

/*  Wait up to timeout_ms (0: do not wait) for the socket to be readable,
 *  then receive once, without blocking, what fits in the buffer. A receive
 *  of 0 bytes (EOF) or a hard error (not EAGAIN/EINTR) sets eof. Does
 *  nothing once eof is set or the buffer is full. */
void hsn_raw_pump (hsn_raw_t *r, int timeout_ms);

/*  Read until the count-th occurrence of needle (occurrences may overlap;
 *  count < 1 counts as 1) is in the buffer: true; false when timeout_ms
 *  passed, eof is set, or the buffer filled up first. Counts what was read
 *  before the call too (hsn_raw_reset forgets it). */
bool hsn_raw_wait_for (hsn_raw_t *r, const char *needle, int count, int timeout_ms);

/*  Read until EOF (true; what came before it is in the buffer); false when
 *  timeout_ms passed or the buffer filled up first. */
bool hsn_raw_wait_eof (hsn_raw_t *r, int timeout_ms);

/*  Forget what was read so far (len 0, empty string); eof is kept. */
void hsn_raw_reset (hsn_raw_t *r);

/*  Close the socket and free the client. NULL-safe (r_p and *r_p); sets
 *  *r_p to NULL. */
void hsn_raw_close (hsn_raw_t **r_p);

#endif

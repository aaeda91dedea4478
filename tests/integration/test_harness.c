/*  Self-test of the test harness (tests/harness): waiting, ports, temp dirs,
 *  processes, redis, PostgreSQL and HTTP against real servers. */
#include "tests/harness/hsn_harness.h"
#include "tests/harness/hsn_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

/* ---- helpers ----------------------------------------------------------- */

static bool
counter_reaches_5 (void *arg)
{
    return ++*(int *) arg >= 5;
}

static bool
never (void *arg)
{
    (void) arg;
    return false;
}

static bool
path_exists (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0;
}

/*  Whether pid is gone or a zombie. */
static bool
pid_gone_cond (void *arg)
{
    pid_t pid = *(pid_t *) arg;
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    char *stat = hsn_read_file (path, NULL);
    if (!stat)
        return true;
    const char *p = strrchr (stat, ')');
    bool gone = p && (p [2] == 'Z' || p [2] == 'X');
    free (stat);
    return gone;
}

static char *
dirname_dup (const char *path)
{
    char *dir = strdup (path);
    ck_assert_ptr_nonnull (dir);
    char *slash = strrchr (dir, '/');
    ck_assert_ptr_nonnull (slash);
    *slash = '\0';
    return dir;
}

/* ---- basics ------------------------------------------------------------ */

START_TEST (test_wait_until)
{
    int n = 0;
    ck_assert (hsn_wait_until (counter_reaches_5, &n, 1000));
    ck_assert_int_eq (n, 5);
    long long t0 = hsn_now_ms ();
    ck_assert (!hsn_wait_until (never, NULL, 50));
    long long took = hsn_now_ms () - t0;
    ck_assert_int_ge (took, 50);
    ck_assert_int_lt (took, 1000);
    n = 4;
    ck_assert (hsn_wait_until (counter_reaches_5, &n, 0));
}
END_TEST

START_TEST (test_free_port)
{
    int port = hsn_free_port ();
    ck_assert_int_gt (port, 0);
    ck_assert_int_lt (port, 65536);
    /*  It is bindable right after. */
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons ((uint16_t) port),
                              .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    ck_assert_int_eq (bind (fd, (struct sockaddr *) &sa, sizeof sa), 0);
    close (fd);
}
END_TEST

START_TEST (test_tmpdir)
{
    char *dir = hsn_tmpdir ("selftest");
    ck_assert_ptr_nonnull (dir);
    ck_assert (dir [0] == '/');
    ck_assert_ptr_nonnull (strstr (dir, "/hsn-selftest-"));
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/a", dir);
    ck_assert_int_eq (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/a/b", dir);
    ck_assert_int_eq (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/a/b/f", dir);
    ck_assert_int_eq (hsn_write_file (path, "content"), 0);
    snprintf (path, sizeof path, "%s/link", dir);
    ck_assert_int_eq (symlink ("/etc", path), 0);
    size_t len;
    snprintf (path, sizeof path, "%s/a/b/f", dir);
    char *text = hsn_read_file (path, &len);
    ck_assert_str_eq (text, "content");
    ck_assert_uint_eq (len, 7);
    free (text);
    ck_assert_int_eq (hsn_rm_rf (dir), 0);
    ck_assert (!path_exists (dir));
    ck_assert (path_exists ("/etc/hostname") || path_exists ("/etc"));
    ck_assert_int_eq (hsn_rm_rf (dir), 0);        /* gone is fine */
    free (dir);
}
END_TEST

START_TEST (test_bin)
{
    ck_assert_int_eq (setenv ("HSN_BIN_DIR", "/opt/x/bin", 1), 0);
    ck_assert_str_eq (hsn_bin ("hsn-one"), "/opt/x/bin/hsn-one");
    ck_assert_int_eq (unsetenv ("HSN_BIN_DIR"), 0);
    /*  We are <BUILD>/tests/integration/test_harness. */
    char exe [PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt (n, 0);
    exe [n] = '\0';
    char *at = strstr (exe, "/tests/integration/");
    ck_assert_ptr_nonnull (at);
    strcpy (at, "/bin/hsn-two");
    ck_assert_str_eq (hsn_bin ("hsn-two"), exe);
    /*  Cached: same pointer. */
    ck_assert_ptr_eq (hsn_bin ("hsn-two"), hsn_bin ("hsn-two"));
}
END_TEST

/* ---- processes --------------------------------------------------------- */

START_TEST (test_proc_log_and_destroy)
{
    char *argv [] = { "/bin/sh", "-c", "echo hi; echo \"x=$HSN_X\" >&2; "
                      "echo \"home=${HSN_GONE-unset}\"; sleep 30", NULL };
    char *env [] = { "HSN_X=42", "HSN_GONE", NULL };
    ck_assert_int_eq (setenv ("HSN_GONE", "here", 1), 0);
    ck_assert_int_eq (setenv ("HSN_X", "old", 1), 0);
    hsn_proc_t *p = hsn_proc_start ("/bin/sh", argv, env);
    ck_assert_ptr_nonnull (p);
    ck_assert_int_gt (hsn_proc_pid (p), 0);
    ck_assert (hsn_proc_wait_log (p, "home=", 5000));
    ck_assert (hsn_proc_log_contains (p, "hi\n"));
    ck_assert (hsn_proc_log_contains (p, "x=42\n"));
    ck_assert (hsn_proc_log_contains (p, "home=unset\n"));
    ck_assert (!hsn_proc_log_contains (p, "nope"));
    ck_assert (hsn_proc_alive (p));
    ck_assert_int_eq (hsn_proc_wait (p, 20, NULL), -ETIMEDOUT);
    char *log_dir = dirname_dup (hsn_proc_log_path (p));
    ck_assert (path_exists (log_dir));
    pid_t pid = hsn_proc_pid (p);
    long long t0 = hsn_now_ms ();
    hsn_proc_destroy (&p);
    ck_assert_ptr_null (p);
    ck_assert_int_lt (hsn_now_ms () - t0, 2000);
    ck_assert (pid_gone_cond (&pid));
    /*  Its group (the sleep) is gone too. */
    ck_assert (kill (-pid, 0) < 0 || hsn_wait_until (pid_gone_cond, &pid, 100));
    ck_assert (!path_exists (log_dir));
    free (log_dir);
    hsn_proc_destroy (&p);          /* NULL-safe */
    hsn_proc_destroy (NULL);
}
END_TEST

START_TEST (test_proc_exit_status)
{
    char *argv [] = { "sh", "-c", "exit 3", NULL };
    hsn_proc_t *p = hsn_proc_start ("sh", argv, NULL);  /* PATH search */
    ck_assert_ptr_nonnull (p);
    int status = 0;
    ck_assert_int_eq (hsn_proc_wait (p, 5000, &status), 0);
    ck_assert (WIFEXITED (status));
    ck_assert_int_eq (WEXITSTATUS (status), 3);
    ck_assert (!hsn_proc_alive (p));
    ck_assert_int_eq (hsn_proc_signal (p, SIGTERM), -ESRCH);
    status = 0;
    ck_assert_int_eq (hsn_proc_wait (p, 0, &status), 0);
    ck_assert_int_eq (WEXITSTATUS (status), 3);
    hsn_proc_destroy (&p);

    /*  Killed by a signal. */
    char *argv2 [] = { "sleep", "30", NULL };
    p = hsn_proc_start ("sleep", argv2, NULL);
    ck_assert_ptr_nonnull (p);
    ck_assert_int_eq (hsn_proc_signal (p, SIGKILL), 0);
    ck_assert_int_eq (hsn_proc_wait (p, 5000, &status), 0);
    ck_assert (WIFSIGNALED (status));
    ck_assert_int_eq (WTERMSIG (status), SIGKILL);
    hsn_proc_destroy (&p);
}
END_TEST

START_TEST (test_proc_exec_failure)
{
    char *argv [] = { "no-such-binary", NULL };
    errno = 0;
    hsn_proc_t *p = hsn_proc_start ("/nonexistent/no-such-binary", argv, NULL);
    ck_assert_ptr_null (p);
    ck_assert_int_eq (errno, ENOENT);
}
END_TEST

START_TEST (test_proc_ignores_sigterm)
{
    /*  destroy escalates to SIGKILL after 5 s. */
    char *argv [] = { "/bin/sh", "-c", "trap '' TERM; echo ready; "
                      "while :; do sleep 1; done", NULL };
    hsn_proc_t *p = hsn_proc_start ("/bin/sh", argv, NULL);
    ck_assert_ptr_nonnull (p);
    ck_assert (hsn_proc_wait_log (p, "ready", 5000));
    pid_t pid = hsn_proc_pid (p);
    long long t0 = hsn_now_ms ();
    hsn_proc_destroy (&p);
    long long took = hsn_now_ms () - t0;
    ck_assert_int_ge (took, 4900);
    ck_assert_int_lt (took, 8000);
    ck_assert (pid_gone_cond (&pid));
}
END_TEST

START_TEST (test_proc_dies_with_parent)
{
    /*  A test process that dies without cleaning up takes its servers. */
    int fds [2];
    ck_assert_int_eq (pipe (fds), 0);
    pid_t mid = fork ();
    ck_assert_int_ge (mid, 0);
    struct { pid_t pid; char log [PATH_MAX]; } msg;
    memset (&msg, 0, sizeof msg);
    if (mid == 0) {
        char *argv [] = { "sleep", "30", NULL };
        hsn_proc_t *p = hsn_proc_start ("sleep", argv, NULL);
        if (p) {
            msg.pid = hsn_proc_pid (p);
            snprintf (msg.log, sizeof msg.log, "%s", hsn_proc_log_path (p));
        }
        ssize_t w = write (fds [1], &msg, sizeof msg);
        (void) w;
        _exit (0);                  /* "crash": no destroy */
    }
    close (fds [1]);
    ck_assert_int_eq (read (fds [0], &msg, sizeof msg), sizeof msg);
    close (fds [0]);
    ck_assert_int_gt (msg.pid, 0);
    ck_assert_int_eq (waitpid (mid, NULL, 0), mid);
    ck_assert (hsn_wait_until (pid_gone_cond, &msg.pid, 5000));
    /*  Nobody removed its log dir: do it for it. */
    char *dir = dirname_dup (msg.log);
    ck_assert_int_eq (hsn_rm_rf (dir), 0);
    free (dir);
}
END_TEST

/* ---- redis ------------------------------------------------------------- */

static redisReply *
redis_cmd (redisContext *c, const char *fmt, const char *a, const char *b)
{
    redisReply *r = redisCommand (c, fmt, a, b);
    ck_assert_msg (r != NULL, "redis: %s", c->errstr);
    return r;
}

START_TEST (test_redis_crash_restart)
{
    long long t0 = hsn_now_ms ();
    hsn_redis_t *r = hsn_redis_start ("appendonly yes\nappendfsync always\n");
    ck_assert_ptr_nonnull (r);
    fprintf (stderr, "redis up on %s in %lld ms\n", hsn_redis_url (r),
             hsn_now_ms () - t0);
    int port = hsn_redis_port (r);
    ck_assert_int_gt (port, 0);
    char url [64];
    snprintf (url, sizeof url, "redis://127.0.0.1:%d", port);
    ck_assert_str_eq (hsn_redis_url (r), url);

    redisContext *c = hsn_redis_connect (r);
    ck_assert_ptr_nonnull (c);
    redisReply *rep = redis_cmd (c, "SET %s %s", "k", "v1");
    ck_assert_int_eq (rep->type, REDIS_REPLY_STATUS);
    freeReplyObject (rep);
    rep = redis_cmd (c, "GET %s", "k", NULL);
    ck_assert_int_eq (rep->type, REDIS_REPLY_STRING);
    ck_assert_str_eq (rep->str, "v1");
    freeReplyObject (rep);
    /*  Bound to loopback only. */
    rep = redis_cmd (c, "CONFIG GET %s", "bind", NULL);
    ck_assert_int_eq (rep->type, REDIS_REPLY_ARRAY);
    ck_assert_str_eq (rep->element [1]->str, "127.0.0.1");
    freeReplyObject (rep);
    redisFree (c);

    pid_t old_pid = hsn_proc_pid (hsn_redis_proc (r));
    ck_assert_int_eq (hsn_redis_kill (r, SIGKILL), 0);
    ck_assert (!hsn_proc_alive (hsn_redis_proc (r)));
    ck_assert_ptr_null (hsn_redis_connect (r));
    ck_assert_int_eq (hsn_redis_kill (r, SIGKILL), -ESRCH);

    t0 = hsn_now_ms ();
    ck_assert_int_eq (hsn_redis_restart (r), 0);
    fprintf (stderr, "redis restarted in %lld ms\n", hsn_now_ms () - t0);
    ck_assert_int_eq (hsn_redis_port (r), port);
    ck_assert_int_ne (hsn_proc_pid (hsn_redis_proc (r)), old_pid);
    c = hsn_redis_connect (r);
    ck_assert_ptr_nonnull (c);
    rep = redis_cmd (c, "GET %s", "k", NULL);
    ck_assert_int_eq (rep->type, REDIS_REPLY_STRING);
    ck_assert_str_eq (rep->str, "v1");          /* AOF kept it */
    freeReplyObject (rep);
    redisFree (c);

    /*  Restart while running. */
    ck_assert_int_eq (hsn_redis_restart (r), 0);
    c = hsn_redis_connect (r);
    ck_assert_ptr_nonnull (c);
    rep = redis_cmd (c, "PING", NULL, NULL);
    ck_assert_str_eq (rep->str, "PONG");
    freeReplyObject (rep);
    redisFree (c);

    char *dir = strdup (hsn_redis_dir (r));
    ck_assert (path_exists (dir));
    hsn_redis_stop (&r);
    ck_assert_ptr_null (r);
    ck_assert (!path_exists (dir));
    free (dir);
    hsn_redis_stop (&r);
}
END_TEST

START_TEST (test_redis_default_volatile)
{
    hsn_redis_t *r = hsn_redis_start (NULL);
    ck_assert_ptr_nonnull (r);
    redisContext *c = hsn_redis_connect (r);
    ck_assert_ptr_nonnull (c);
    freeReplyObject (redis_cmd (c, "SET %s %s", "k", "v"));
    redisFree (c);
    ck_assert_int_eq (hsn_redis_kill (r, SIGKILL), 0);
    ck_assert_int_eq (hsn_redis_restart (r), 0);
    c = hsn_redis_connect (r);
    ck_assert_ptr_nonnull (c);
    redisReply *rep = redis_cmd (c, "GET %s", "k", NULL);
    ck_assert_int_eq (rep->type, REDIS_REPLY_NIL);  /* no persistence */
    freeReplyObject (rep);
    redisFree (c);

    /*  Two at once get different ports. */
    hsn_redis_t *r2 = hsn_redis_start (NULL);
    ck_assert_ptr_nonnull (r2);
    ck_assert_int_ne (hsn_redis_port (r), hsn_redis_port (r2));
    hsn_redis_stop (&r2);
    hsn_redis_stop (&r);
}
END_TEST

/* ---- PostgreSQL -------------------------------------------------------- */

static void
pg_expect_rows (hsn_pg_t *pg, const char *expect)
{
    PGconn *c = PQconnectdb (hsn_pg_url (pg));
    ck_assert_msg (PQstatus (c) == CONNECTION_OK, "%s", PQerrorMessage (c));
    PGresult *res = PQexec (c, "SELECT string_agg(v, ',' ORDER BY id) FROM t");
    ck_assert_msg (PQresultStatus (res) == PGRES_TUPLES_OK, "%s",
                   PQerrorMessage (c));
    ck_assert_str_eq (PQgetvalue (res, 0, 0), expect);
    PQclear (res);
    PQfinish (c);
}

START_TEST (test_pg_lifecycle)
{
    long long t0 = hsn_now_ms ();
    hsn_pg_t *pg = hsn_pg_start ();
    ck_assert_ptr_nonnull (pg);
    long long took = hsn_now_ms () - t0;
    fprintf (stderr, "postgres up on %s in %lld ms\n", hsn_pg_url (pg), took);
    ck_assert_int_lt (took, 10000);
    char url [96];
    snprintf (url, sizeof url, "postgresql://hsn@127.0.0.1:%d/hsn",
              hsn_pg_port (pg));
    ck_assert_str_eq (hsn_pg_url (pg), url);

    ck_assert_int_eq (hsn_pg_exec (pg, "CREATE TABLE t (id int primary key, v text);"
                                       "INSERT INTO t VALUES (1, 'a'), (2, 'b')"), 0);
    ck_assert_int_eq (hsn_pg_exec (pg, "SELECT 1"), 0);
    ck_assert_int_eq (hsn_pg_exec (pg, "SELEC nonsense"), -EIO);
    ck_assert_int_eq (hsn_pg_exec (pg, "INSERT INTO t VALUES (1, 'dup')"), -EIO);
    pg_expect_rows (pg, "a,b");

    /*  Loopback only. */
    PGconn *c = PQconnectdb (hsn_pg_url (pg));
    ck_assert_int_eq (PQstatus (c), CONNECTION_OK);
    PGresult *res = PQexec (c, "SHOW listen_addresses");
    ck_assert_str_eq (PQgetvalue (res, 0, 0), "127.0.0.1");
    PQclear (res);

    /*  Crash: the open connection dies, the committed rows survive, and
     *  its backend (which left the postmaster's process group) is killed
     *  and reaped with the rest. */
    res = PQexec (c, "SELECT pg_backend_pid()");
    ck_assert_int_eq (PQresultStatus (res), PGRES_TUPLES_OK);
    char backend_proc [64];
    snprintf (backend_proc, sizeof backend_proc, "/proc/%s",
              PQgetvalue (res, 0, 0));
    PQclear (res);
    ck_assert (path_exists (backend_proc));
    pid_t old_pid = hsn_proc_pid (hsn_pg_proc (pg));
    ck_assert_int_eq (hsn_pg_kill (pg, SIGKILL), 0);
    ck_assert_msg (!path_exists (backend_proc), "%s survived", backend_proc);
    ck_assert_int_eq (hsn_pg_kill (pg, SIGKILL), -ESRCH);
    ck_assert_int_eq (hsn_pg_exec (pg, "SELECT 1"), -EIO);
    t0 = hsn_now_ms ();
    ck_assert_int_eq (hsn_pg_restart (pg), 0);
    fprintf (stderr, "postgres restarted in %lld ms\n", hsn_now_ms () - t0);
    ck_assert_int_ne (hsn_proc_pid (hsn_pg_proc (pg)), old_pid);
    res = PQexec (c, "SELECT 1");
    ck_assert_int_ne (PQresultStatus (res), PGRES_TUPLES_OK);
    PQclear (res);
    PQfinish (c);
    pg_expect_rows (pg, "a,b");

    /*  Clean restart while running. */
    ck_assert_int_eq (hsn_pg_exec (pg, "INSERT INTO t VALUES (3, 'c')"), 0);
    ck_assert_int_eq (hsn_pg_restart (pg), 0);
    pg_expect_rows (pg, "a,b,c");

    char *dir = dirname_dup (hsn_proc_log_path (hsn_pg_proc (pg)));
    ck_assert (path_exists (dir));
    pid_t pid = hsn_proc_pid (hsn_pg_proc (pg));
    hsn_pg_stop (&pg);
    ck_assert_ptr_null (pg);
    ck_assert (!path_exists (dir));
    ck_assert (pid_gone_cond (&pid));
    free (dir);
    hsn_pg_stop (&pg);
}
END_TEST

/* ---- HTTP -------------------------------------------------------------- */

/*  A one-shot HTTP server: accepts one connection, records the request,
 *  sends a canned response. */
typedef struct {
    int listen_fd;
    int port;
    char request [8192];
    size_t request_len;
    const char *response;
    pthread_t thread;
} tiny_server_t;

static void *
tiny_server_run (void *arg)
{
    tiny_server_t *s = (tiny_server_t *) arg;
    int fd = accept (s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    /*  Read the head, then Content-Length bytes of body. */
    while (s->request_len < sizeof s->request - 1) {
        ssize_t n = read (fd, s->request + s->request_len,
                          sizeof s->request - 1 - s->request_len);
        if (n <= 0)
            break;
        s->request_len += (size_t) n;
        s->request [s->request_len] = '\0';
        char *end = strstr (s->request, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr (s->request, "\r\nContent-Length:");
            size_t body = cl ? (size_t) atol (cl + 17) : 0;
            if (s->request_len >= (size_t) (end + 4 - s->request) + body)
                break;
        }
    }
    size_t left = strlen (s->response);
    const char *p = s->response;
    while (left > 0) {
        ssize_t n = write (fd, p, left);
        if (n <= 0)
            break;
        p += n;
        left -= (size_t) n;
    }
    close (fd);
    return NULL;
}

static void
tiny_server_start (tiny_server_t *s, const char *response)
{
    memset (s, 0, sizeof *s);
    s->response = response;
    s->listen_fd = socket (AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge (s->listen_fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    ck_assert_int_eq (bind (s->listen_fd, (struct sockaddr *) &sa, sizeof sa), 0);
    ck_assert_int_eq (getsockname (s->listen_fd, (struct sockaddr *) &sa, &len), 0);
    ck_assert_int_eq (listen (s->listen_fd, 4), 0);
    s->port = ntohs (sa.sin_port);
    ck_assert_int_eq (pthread_create (&s->thread, NULL, tiny_server_run, s), 0);
}

static void
tiny_server_join (tiny_server_t *s)
{
    pthread_join (s->thread, NULL);
    close (s->listen_fd);
}

START_TEST (test_http_request)
{
    tiny_server_t s;
    tiny_server_start (&s,
        "HTTP/1.1 201 Created\r\n"
        "X-Test:  Yes Indeed \r\n"
        "Content-Encoding: gzip\r\n"
        "Content-Length: 5\r\n"
        "Connection: close\r\n"
        "\r\n"
        "hello");
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/v1/x?y=1", s.port);
    const char *headers [] = { "X-Req: 1", "Authorization: Bearer t", NULL };
    hsn_http_resp_t resp;
    ck_assert_int_eq (hsn_http ("PUT", url, "{\"a\":1}", 7, headers, &resp), 0);
    tiny_server_join (&s);

    ck_assert_int_eq (resp.status, 201);
    ck_assert_uint_eq (resp.body_len, 5);
    ck_assert_str_eq (resp.body, "hello");      /* NUL-terminated */
    ck_assert_str_eq (hsn_http_header (&resp, "x-test"), "Yes Indeed");
    ck_assert_str_eq (hsn_http_header (&resp, "CONTENT-ENCODING"), "gzip");
    ck_assert_str_eq (hsn_http_header (&resp, "Content-Length"), "5");
    ck_assert_ptr_null (hsn_http_header (&resp, "X-Missing"));
    ck_assert_ptr_nonnull (strstr (resp.headers, "HTTP/1.1 201"));

    ck_assert_ptr_nonnull (strstr (s.request, "PUT /v1/x?y=1 HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull (strstr (s.request, "\r\nX-Req: 1\r\n"));
    ck_assert_ptr_nonnull (strstr (s.request, "\r\nContent-Length: 7\r\n"));
    ck_assert_ptr_null (strcasestr (s.request, "Content-Type"));
    ck_assert_ptr_null (strcasestr (s.request, "Expect"));
    ck_assert_ptr_null (strcasestr (s.request, "Accept-Encoding"));
    ck_assert_ptr_nonnull (strstr (s.request, "\r\n\r\n{\"a\":1}"));
    hsn_http_resp_free (&resp);
    ck_assert_ptr_null (resp.body);
    hsn_http_resp_free (&resp);
}
END_TEST

START_TEST (test_http_post_empty_and_errors)
{
    tiny_server_t s;
    tiny_server_start (&s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                           "Connection: close\r\n\r\n");
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/", s.port);
    const char *headers [] = { "Content-Type: application/msgpack", NULL };
    hsn_http_resp_t resp;
    ck_assert_int_eq (hsn_http ("POST", url, NULL, 0, headers, &resp), 0);
    tiny_server_join (&s);
    ck_assert_int_eq (resp.status, 404);
    ck_assert_uint_eq (resp.body_len, 0);
    ck_assert_str_eq (resp.body, "");
    ck_assert_ptr_nonnull (strstr (s.request, "POST / HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull (strstr (s.request, "\r\nContent-Length: 0\r\n"));
    ck_assert_ptr_nonnull (strstr (s.request,
                                   "\r\nContent-Type: application/msgpack\r\n"));
    hsn_http_resp_free (&resp);

    /*  Nobody listening: a transport error. */
    int port = hsn_free_port ();
    snprintf (url, sizeof url, "http://127.0.0.1:%d/", port);
    ck_assert_int_eq (hsn_http ("GET", url, NULL, 0, NULL, &resp), -EIO);
    ck_assert_ptr_null (resp.body);
    hsn_http_resp_free (&resp);
}
END_TEST

static Suite *
suite (void)
{
    Suite *s = suite_create ("harness");
    TCase *tc = tcase_create ("basics");
    tcase_add_test (tc, test_wait_until);
    tcase_add_test (tc, test_free_port);
    tcase_add_test (tc, test_tmpdir);
    tcase_add_test (tc, test_bin);
    suite_add_tcase (s, tc);

    tc = tcase_create ("proc");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_proc_log_and_destroy);
    tcase_add_test (tc, test_proc_exit_status);
    tcase_add_test (tc, test_proc_exec_failure);
    tcase_add_test (tc, test_proc_ignores_sigterm);
    tcase_add_test (tc, test_proc_dies_with_parent);
    suite_add_tcase (s, tc);

    tc = tcase_create ("redis");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_redis_crash_restart);
    tcase_add_test (tc, test_redis_default_volatile);
    suite_add_tcase (s, tc);

    tc = tcase_create ("pg");
    tcase_set_timeout (tc, 120);
    tcase_add_test (tc, test_pg_lifecycle);
    suite_add_tcase (s, tc);

    tc = tcase_create ("http");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_http_request);
    tcase_add_test (tc, test_http_post_empty_and_errors);
    suite_add_tcase (s, tc);
    return s;
}

HSN_TEST_MAIN (suite)

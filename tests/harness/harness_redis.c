/*  hsn_harness: a private redis-server per test. See hsn_harness.h. */
#include "hsn_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REDIS_SERVER       "/usr/bin/redis-server"
#define REDIS_START_TRIES  8
#define REDIS_READY_MS     10000
#define REDIS_RESTART_MS   20000

struct hsn_redis_t {
    char *dir;
    char *conf_path;
    char *log_path;
    char *extra_conf;
    char *url;
    int port;
    hsn_proc_t *proc;
};

static const char *
redis_server_path (void)
{
    const char *env = getenv ("HSN_REDIS_SERVER");
    if (env && *env)
        return env;
    return access (REDIS_SERVER, X_OK) == 0 ? REDIS_SERVER : "redis-server";
}

static int
redis_write_conf (hsn_redis_t *r)
{
    char *conf = NULL;
    if (asprintf (&conf,
                  "# written by the hsn test harness\n"
                  "port %d\n"
                  "bind 127.0.0.1\n"
                  "dir %s\n"
                  "save \"\"\n"
                  "appendonly no\n"
                  "daemonize no\n"
                  "protected-mode no\n"
                  "logfile \"\"\n"
                  "always-show-logo no\n"
                  "%s\n",
                  r->port, r->dir, r->extra_conf ? r->extra_conf : "") < 0)
        return -ENOMEM;
    int rc = hsn_write_file (r->conf_path, conf);
    free (conf);
    return rc;
}

static redisContext *
redis_connect_port (int port, int timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout ("127.0.0.1", port, tv);
    if (c && c->err) {
        redisFree (c);
        c = NULL;
    }
    if (c)
        redisSetTimeout (c, tv);
    return c;
}

/*  Whether the server on the port answers PING and is our process (not a
 *  stranger that won the port). */
static bool
redis_answers (int port, pid_t pid)
{
    redisContext *c = redis_connect_port (port, 500);
    if (!c)
        return false;
    bool ok = false;
    redisReply *reply = redisCommand (c, "PING");
    if (reply && reply->type == REDIS_REPLY_STATUS
    &&  strcmp (reply->str, "PONG") == 0) {
        freeReplyObject (reply);
        reply = redisCommand (c, "INFO server");
        if (reply && reply->type == REDIS_REPLY_STRING) {
            const char *at = strstr (reply->str, "process_id:");
            ok = at && atol (at + strlen ("process_id:")) == (long) pid;
        }
    }
    if (reply)
        freeReplyObject (reply);
    redisFree (c);
    return ok;
}

typedef struct {
    hsn_redis_t *r;
    bool died;
} redis_ready_t;

static bool
redis_ready_cond (void *arg)
{
    redis_ready_t *w = (redis_ready_t *) arg;
    if (!hsn_proc_alive (w->r->proc)) {
        w->died = true;
        return true;
    }
    return redis_answers (w->r->port, hsn_proc_pid (w->r->proc));
}

/*  Start redis-server on r->port and wait until it answers. Returns 0,
 *  -EADDRINUSE if it exited (the usual reason: the port was taken),
 *  -ETIMEDOUT, or another -errno. */
static int
redis_spawn (hsn_redis_t *r)
{
    hsn_proc_destroy (&r->proc);
    int rc = redis_write_conf (r);
    if (rc < 0)
        return rc;
    const char *server = redis_server_path ();
    char *argv [] = { (char *) server, r->conf_path, NULL };
    hsn_proc_opts_t opts = { .log_path = r->log_path, .cwd = r->dir };
    r->proc = hsn_proc_start_opts (server, argv, NULL, &opts);
    if (!r->proc)
        return errno ? -errno : -EIO;
    redis_ready_t w = { r, false };
    if (!hsn_wait_until (redis_ready_cond, &w, REDIS_READY_MS))
        return -ETIMEDOUT;
    return w.died ? -EADDRINUSE : 0;
}


static void
redis_free (hsn_redis_t *r)
{
    hsn_proc_destroy (&r->proc);
    if (r->dir)
        hsn_tmpdir_remove (r->dir);
    free (r->dir);
    free (r->conf_path);
    free (r->log_path);
    free (r->extra_conf);
    free (r->url);
    free (r);
}

hsn_redis_t *
hsn_redis_start (const char *extra_conf)
{
    hsn_redis_t *r = calloc (1, sizeof *r);
    if (!r)
        return NULL;
    r->dir = hsn_tmpdir ("redis");
    if (!r->dir
    ||  asprintf (&r->conf_path, "%s/redis.conf", r->dir) < 0
    ||  asprintf (&r->log_path, "%s/redis.log", r->dir) < 0
    ||  (extra_conf && !(r->extra_conf = strdup (extra_conf)))) {
        redis_free (r);
        return NULL;
    }
    int rc = -EIO;
    for (int attempt = 0; attempt < REDIS_START_TRIES; attempt++) {
        r->port = hsn_free_port ();
        if (r->port < 0) {
            rc = r->port;
            break;
        }
        rc = redis_spawn (r);
        if (rc != -EADDRINUSE)
            break;
    }
    if (rc == 0) {
        if (asprintf (&r->url, "redis://127.0.0.1:%d", r->port) < 0)
            r->url = NULL;
        if (r->url)
            return r;
        rc = -ENOMEM;
    }
    fprintf (stderr, "hsn_redis_start: %s\n", strerror (-rc));
    if (r->proc)
        hsn_proc_dump_log (r->proc, stderr, 4000);
    redis_free (r);
    return NULL;
}

int
hsn_redis_port (hsn_redis_t *r)
{
    return r->port;
}

const char *
hsn_redis_url (hsn_redis_t *r)
{
    return r->url;
}

const char *
hsn_redis_dir (hsn_redis_t *r)
{
    return r->dir;
}

hsn_proc_t *
hsn_redis_proc (hsn_redis_t *r)
{
    return r->proc;
}

int
hsn_redis_kill (hsn_redis_t *r, int sig)
{
    if (!r->proc)
        return -ESRCH;
    int rc = hsn_proc_signal (r->proc, sig);
    if (rc < 0)
        return rc;
    if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
        return hsn_proc_wait (r->proc, 10000, NULL);
    return 0;
}

int
hsn_redis_restart (hsn_redis_t *r)
{
    long long deadline = hsn_now_ms () + REDIS_RESTART_MS;
    hsn_proc_destroy (&r->proc);
    int rc = -ETIMEDOUT;
    while (hsn_now_ms () < deadline) {
        int left = (int) (deadline - hsn_now_ms ());
        if (!hsn_wait_until (hsn_port_bindable, &r->port, left > 0 ? left : 0))
            break;
        rc = redis_spawn (r);
        if (rc != -EADDRINUSE)
            break;
        rc = -ETIMEDOUT;
    }
    if (rc < 0) {
        fprintf (stderr, "hsn_redis_restart (port %d): %s\n", r->port,
                 strerror (-rc));
        if (r->proc)
            hsn_proc_dump_log (r->proc, stderr, 4000);
    }
    return rc;
}

redisContext *
hsn_redis_connect (hsn_redis_t *r)
{
    return redis_connect_port (r->port, 2000);
}

void
hsn_redis_stop (hsn_redis_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    redis_free (*r_p);
    *r_p = NULL;
}

/*  hsn_harness: a private PostgreSQL cluster per test. See hsn_harness.h.
 *
 *  The server runs in the foreground as our child (no pg_ctl), so it gets
 *  PR_SET_PDEATHSIG like every other process; its backends exit on their own
 *  when the postmaster dies. Debian's server binaries refuse to run as root,
 *  so as root they run as the "postgres" user (or "nobody").
 */
#include "hsn_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#define PG_START_TRIES   6
#define PG_INITDB_MS     60000
#define PG_READY_MS      30000
#define PG_RESTART_MS    30000
#define PG_STOP_MS       10000
#define PG_CONN_OPTS     "sslmode=disable gssencmode=disable"

struct hsn_pg_t {
    char *dir;          /* temp dir, owned by the server's user */
    char *data;         /* dir/data */
    char *log_path;     /* dir/postgres.log: initdb and server output */
    char *url;
    int port;
    hsn_proc_opts_t opts;
    hsn_proc_t *proc;   /* the postmaster */
};

/* ---- where the server binaries are ------------------------------------- */

static char s_bindir [PATH_MAX];
static pthread_once_t s_bindir_once = PTHREAD_ONCE_INIT;

static bool
bindir_usable (const char *dir)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/postgres", dir);
    if (access (path, X_OK) < 0)
        return false;
    snprintf (path, sizeof path, "%s/initdb", dir);
    return access (path, X_OK) == 0;
}

static void
bindir_find (void)
{
    const char *env = getenv ("HSN_PG_BINDIR");
    if (env && *env && bindir_usable (env)) {
        snprintf (s_bindir, sizeof s_bindir, "%s", env);
        return;
    }
    FILE *f = popen ("pg_config --bindir 2>/dev/null", "r");
    if (f) {
        char line [PATH_MAX];
        if (fgets (line, sizeof line, f)) {
            line [strcspn (line, "\r\n")] = '\0';
            if (bindir_usable (line))
                snprintf (s_bindir, sizeof s_bindir, "%s", line);
        }
        pclose (f);
        if (*s_bindir)
            return;
    }
    /*  Debian: /usr/lib/postgresql/<major>/bin; take the newest major. */
    glob_t g;
    if (glob ("/usr/lib/postgresql/*/bin", GLOB_ONLYDIR, NULL, &g) == 0) {
        long best = -1;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            long major = strtol (g.gl_pathv [i] + strlen ("/usr/lib/postgresql/"),
                                 NULL, 10);
            if (major > best && bindir_usable (g.gl_pathv [i])) {
                best = major;
                snprintf (s_bindir, sizeof s_bindir, "%s", g.gl_pathv [i]);
            }
        }
        globfree (&g);
    }
}

static const char *
pg_bindir (void)
{
    pthread_once (&s_bindir_once, bindir_find);
    return *s_bindir ? s_bindir : NULL;
}

/* ---- the unprivileged user, and a dir it can reach -------------------- */

/*  Whether uid/gid may search every directory from / down to path. */
static bool
path_traversable_by (const char *path, uid_t uid, gid_t gid)
{
    char buf [PATH_MAX];
    snprintf (buf, sizeof buf, "%s", path);
    while (true) {
        struct stat st;
        if (stat (*buf ? buf : "/", &st) < 0)
            return false;
        mode_t bit = st.st_uid == uid ? S_IXUSR
                   : st.st_gid == gid ? S_IXGRP : S_IXOTH;
        if (!(st.st_mode & bit))
            return false;
        char *slash = strrchr (buf, '/');
        if (!*buf || !slash)
            return true;
        *slash = '\0';
    }
}

/*  Whether uid/gid may reach what is inside dir once it owns dir. */
static bool
parent_traversable_by (const char *dir, uid_t uid, gid_t gid)
{
    char buf [PATH_MAX];
    snprintf (buf, sizeof buf, "%s", dir);
    char *slash = strrchr (buf, '/');
    if (slash)
        *slash = '\0';
    return path_traversable_by (buf, uid, gid);
}

static int
pg_pick_user (hsn_pg_t *pg)
{
    if (geteuid () != 0)
        return 0;
    struct passwd *pw = getpwnam ("postgres");
    if (!pw)
        pw = getpwnam ("nobody");
    if (!pw) {
        fprintf (stderr, "hsn_pg_start: running as root, but neither user "
                 "'postgres' nor 'nobody' exists\n");
        return -ENOENT;
    }
    pg->opts.set_ids = true;
    pg->opts.uid = pw->pw_uid;
    pg->opts.gid = pw->pw_gid;
    return 0;
}

static char *
pg_make_dir (hsn_pg_t *pg)
{
    char *dir = hsn_tmpdir ("pg");
    if (dir && pg->opts.set_ids
    &&  !parent_traversable_by (dir, pg->opts.uid, pg->opts.gid)) {
        /*  $TMPDIR is private to root: use /tmp, which everyone can reach. */
        hsn_tmpdir_remove (dir);
        free (dir);
        dir = strdup ("/tmp/hsn-pg-XXXXXX");
        if (dir && !mkdtemp (dir)) {
            fprintf (stderr, "hsn_pg_start: mkdtemp: %s\n", strerror (errno));
            free (dir);
            dir = NULL;
        }
    }
    if (dir && pg->opts.set_ids
    &&  chown (dir, pg->opts.uid, pg->opts.gid) < 0) {
        fprintf (stderr, "hsn_pg_start: chown %s: %s\n", dir, strerror (errno));
        hsn_tmpdir_remove (dir);
        free (dir);
        dir = NULL;
    }
    return dir;
}

/* ---- running things ---------------------------------------------------- */

/*  Environment for initdb and postgres: C locale, no timezone probing, and
 *  no PG* variables from the caller steering them elsewhere. */
static char *const s_pg_env [] = {
    "LC_ALL=C", "LANG=C", "TZ=UTC", "PGTZ=UTC",
    "PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE", "PGOPTIONS",
    NULL
};

static int
pg_initdb (hsn_pg_t *pg)
{
    char initdb [PATH_MAX + 32];
    snprintf (initdb, sizeof initdb, "%s/initdb", pg_bindir ());
    char *argv [] = {
        initdb, "-D", pg->data, "-A", "trust", "-U", "hsn", "--no-sync",
        "-E", "UTF8", "--locale=C", "--no-instructions", NULL
    };
    hsn_proc_t *p = hsn_proc_start_opts (initdb, argv, s_pg_env, &pg->opts);
    if (!p)
        return -errno;
    int status = 0;
    int rc = hsn_proc_wait (p, PG_INITDB_MS, &status);
    if (rc == 0 && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
        rc = -EIO;
    if (rc < 0) {
        fprintf (stderr, "hsn_pg_start: initdb failed (%s)\n",
                 rc == -ETIMEDOUT ? "timeout" : "exit status");
        hsn_proc_dump_log (p, stderr, 4000);
    }
    hsn_proc_destroy (&p);
    return rc;
}

static PGconn *
pg_connect (int port, const char *db, int timeout_s)
{
    char conninfo [256];
    snprintf (conninfo, sizeof conninfo,
              "host=127.0.0.1 port=%d user=hsn dbname=%s connect_timeout=%d "
              PG_CONN_OPTS, port, db, timeout_s);
    PGconn *c = PQconnectdb (conninfo);
    if (c && PQstatus (c) != CONNECTION_OK) {
        PQfinish (c);
        c = NULL;
    }
    return c;
}

/*  Whether the server on the port accepts us and is ours (its data dir is). */
static bool
pg_answers (hsn_pg_t *pg)
{
    PGconn *c = pg_connect (pg->port, "postgres", 2);
    if (!c)
        return false;
    PGresult *res = PQexec (c, "SHOW data_directory");
    bool ok = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1
              && strcmp (PQgetvalue (res, 0, 0), pg->data) == 0;
    PQclear (res);
    PQfinish (c);
    return ok;
}

typedef struct {
    hsn_pg_t *pg;
    bool died;
} pg_ready_t;

static bool
pg_ready_cond (void *arg)
{
    pg_ready_t *w = (pg_ready_t *) arg;
    if (!hsn_proc_alive (w->pg->proc)) {
        w->died = true;
        return true;
    }
    return pg_answers (w->pg);
}

/*  Start the postmaster on pg->port and wait until it accepts connections.
 *  Returns 0, -EAGAIN if it exited (port taken, old shared memory still in
 *  use, ...), -ETIMEDOUT, or another -errno. */
static int
pg_spawn (hsn_pg_t *pg)
{
    hsn_proc_destroy (&pg->proc);
    char postgres [PATH_MAX + 32], port [16], sockdir [PATH_MAX + 32];
    snprintf (postgres, sizeof postgres, "%s/postgres", pg_bindir ());
    snprintf (port, sizeof port, "%d", pg->port);
    /*  A unix socket path must fit in sun_path (108 bytes). */
    snprintf (sockdir, sizeof sockdir, "unix_socket_directories=%s",
              strlen (pg->dir) + sizeof "/.s.PGSQL.65535" <= 100 ? pg->dir : "");
    char *argv [] = {
        postgres, "-D", pg->data, "-p", port,
        "-c", "listen_addresses=127.0.0.1",
        "-c", sockdir,
        /*  fsync off is safe against process crashes (what tests do):
         *  committed WAL is in the kernel. synchronous_commit stays on,
         *  or a SIGKILL would lose commits still in WAL buffers. */
        "-c", "fsync=off",
        "-c", "full_page_writes=off",
        "-c", "shared_buffers=32MB",
        "-c", "logging_collector=off",
        NULL
    };
    pg->proc = hsn_proc_start_opts (postgres, argv, s_pg_env, &pg->opts);
    if (!pg->proc)
        return errno ? -errno : -EIO;
    pg_ready_t w = { pg, false };
    if (!hsn_wait_until (pg_ready_cond, &w, PG_READY_MS))
        return -ETIMEDOUT;
    return w.died ? -EAGAIN : 0;
}


/*  Fast shutdown, or kill the whole tree if that takes too long, so the
 *  data dir and its shared memory are free again. After a crash (postmaster
 *  gone) the backends have been killed and reaped by hsn_proc_kill_tree. */
static void
pg_shutdown (hsn_pg_t *pg)
{
    if (!pg->proc)
        return;
    if (hsn_proc_alive (pg->proc)) {
        hsn_proc_signal (pg->proc, SIGINT);
        if (hsn_proc_wait (pg->proc, PG_STOP_MS, NULL) < 0) {
            fprintf (stderr, "hsn_pg: postgres ignored fast shutdown for "
                     "%d ms, killing it\n", PG_STOP_MS);
            hsn_proc_kill_tree (pg->proc);
        }
    }
    /*  destroy also kills whatever is left in its process group. */
    hsn_proc_destroy (&pg->proc);
}

static void
pg_free (hsn_pg_t *pg)
{
    pg_shutdown (pg);
    if (pg->dir)
        hsn_tmpdir_remove (pg->dir);
    free (pg->dir);
    free (pg->data);
    free (pg->log_path);
    free (pg->url);
    free (pg);
}

static void
notice_ignore (void *arg, const char *message)
{
    (void) arg;
    (void) message;
}

/*  Run sql on database db. Returns 0 or -EIO. */
static int
pg_exec_db (hsn_pg_t *pg, const char *db, const char *sql)
{
    PGconn *c = pg_connect (pg->port, db, 5);
    if (!c) {
        fprintf (stderr, "hsn_pg_exec: cannot connect to port %d\n", pg->port);
        return -EIO;
    }
    PQsetNoticeProcessor (c, notice_ignore, NULL);
    PGresult *res = PQexec (c, sql);
    ExecStatusType st = PQresultStatus (res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK
    &&  st != PGRES_EMPTY_QUERY) {
        fprintf (stderr, "hsn_pg_exec: %s: %s", sql, PQerrorMessage (c));
        rc = -EIO;
    }
    PQclear (res);
    PQfinish (c);
    return rc;
}

/* ---- public ------------------------------------------------------------ */

hsn_pg_t *
hsn_pg_start (void)
{
    if (!pg_bindir ()) {
        fprintf (stderr, "hsn_pg_start: no PostgreSQL server binaries (tried "
                 "$HSN_PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/*/bin);"
                 " run deploy/install-deps.sh test\n");
        return NULL;
    }
    hsn_pg_t *pg = calloc (1, sizeof *pg);
    if (!pg)
        return NULL;
    int rc = pg_pick_user (pg);
    if (rc == 0) {
        pg->dir = pg_make_dir (pg);
        if (!pg->dir
        ||  asprintf (&pg->data, "%s/data", pg->dir) < 0
        ||  asprintf (&pg->log_path, "%s/postgres.log", pg->dir) < 0) {
            pg->data = pg->log_path = NULL;
            rc = -ENOMEM;
        }
    }
    if (rc == 0) {
        pg->opts.log_path = pg->log_path;
        pg->opts.cwd = pg->dir;
        rc = pg_initdb (pg);
    }
    for (int attempt = 0; rc == 0 && attempt < PG_START_TRIES; attempt++) {
        pg->port = hsn_free_port ();
        if (pg->port < 0) {
            rc = pg->port;
            break;
        }
        rc = pg_spawn (pg);
        if (rc != -EAGAIN)
            break;
        if (attempt + 1 < PG_START_TRIES)
            rc = 0;
    }
    if (rc == 0)
        rc = pg_exec_db (pg, "postgres", "CREATE DATABASE hsn");
    if (rc == 0
    &&  asprintf (&pg->url, "postgresql://hsn@127.0.0.1:%d/hsn", pg->port) < 0) {
        pg->url = NULL;
        rc = -ENOMEM;
    }
    if (rc == 0)
        return pg;
    fprintf (stderr, "hsn_pg_start: %s\n", strerror (-rc));
    if (pg->proc)
        hsn_proc_dump_log (pg->proc, stderr, 4000);
    pg_free (pg);
    return NULL;
}

const char *
hsn_pg_url (hsn_pg_t *pg)
{
    return pg->url;
}

int
hsn_pg_port (hsn_pg_t *pg)
{
    return pg->port;
}

hsn_proc_t *
hsn_pg_proc (hsn_pg_t *pg)
{
    return pg->proc;
}

int
hsn_pg_exec (hsn_pg_t *pg, const char *sql)
{
    return pg_exec_db (pg, "hsn", sql);
}

int
hsn_pg_kill (hsn_pg_t *pg, int sig)
{
    if (!pg->proc || !hsn_proc_alive (pg->proc))
        return -ESRCH;
    if (sig == SIGKILL)
        return hsn_proc_kill_tree (pg->proc);
    int rc = hsn_proc_signal (pg->proc, sig);
    if (rc < 0)
        return rc;
    if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT)
        return hsn_proc_wait (pg->proc, 10000, NULL);
    return 0;
}

int
hsn_pg_restart (hsn_pg_t *pg)
{
    long long deadline = hsn_now_ms () + PG_RESTART_MS;
    pg_shutdown (pg);
    int rc = -ETIMEDOUT;
    while (hsn_now_ms () < deadline) {
        int left = (int) (deadline - hsn_now_ms ());
        if (!hsn_wait_until (hsn_port_bindable, &pg->port, left > 0 ? left : 0))
            break;
        /*  A failed attempt (port race, a stranger's leftovers) is retried
         *  until the deadline. */
        rc = pg_spawn (pg);
        if (rc != -EAGAIN)
            break;
        rc = -ETIMEDOUT;
    }
    if (rc < 0) {
        fprintf (stderr, "hsn_pg_restart (port %d): %s\n", pg->port,
                 strerror (-rc));
        if (pg->proc)
            hsn_proc_dump_log (pg->proc, stderr, 4000);
    }
    return rc;
}

void
hsn_pg_stop (hsn_pg_t **pg_p)
{
    if (!pg_p || !*pg_p)
        return;
    pg_free (*pg_p);
    *pg_p = NULL;
}

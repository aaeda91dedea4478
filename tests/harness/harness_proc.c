/*  hsn_harness: child processes with a log file, a deadline on every wait,
 *  and PR_SET_PDEATHSIG so none outlives the test. See hsn_harness.h. */
#include "hsn_harness.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct hsn_proc_t {
    pid_t pid;          /* child pid, also its process group id */
    bool exited;        /* reaped (or found gone) */
    int status;         /* waitpid status once exited */
    char *name;         /* basename of the program, for messages */
    char *log_path;
    char *log_dir;      /* temp dir holding the log, owned; or NULL */
};

/*  What failed in the child before exec, sent back through a pipe. */
typedef struct {
    int stage;
    int err;
} spawn_error_t;

enum { STAGE_CHDIR = 1, STAGE_IDS, STAGE_PDEATHSIG, STAGE_FDS, STAGE_EXEC };

static const char *
stage_name (int stage)
{
    switch (stage) {
        case STAGE_CHDIR:     return "chdir";
        case STAGE_IDS:       return "setgid/setuid";
        case STAGE_PDEATHSIG: return "prctl(PR_SET_PDEATHSIG)";
        case STAGE_FDS:       return "dup2";
        default:              return "exec";
    }
}

/*  Whether entry "K=V" (or "K") names the same variable as key "K=..." */
static bool
same_key (const char *entry, const char *key)
{
    size_t n = strcspn (key, "=");
    return strncmp (entry, key, n) == 0 && (entry [n] == '=' || entry [n] == '\0');
}

/*  Our environment overridden by extra (entries without '=' unset).
 *  Returns an array of borrowed pointers (free the array only) or NULL. */
static char **
build_env (char *const extra[])
{
    size_t n_env = 0, n_extra = 0;
    while (environ && environ [n_env])
        n_env++;
    while (extra && extra [n_extra])
        n_extra++;
    char **env = calloc (n_env + n_extra + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_env; i++) {
        bool overridden = false;
        for (size_t j = 0; j < n_extra && !overridden; j++)
            overridden = same_key (environ [i], extra [j]);
        if (!overridden)
            env [n++] = environ [i];
    }
    for (size_t j = 0; j < n_extra; j++) {
        if (!strchr (extra [j], '='))
            continue;
        /*  A later duplicate in extra wins: drop earlier ones. */
        bool later = false;
        for (size_t k = j + 1; k < n_extra && !later; k++)
            later = same_key (extra [k], extra [j]);
        if (!later)
            env [n++] = extra [j];
    }
    env [n] = NULL;
    return env;
}

/*  fd moved to a number >= 3 with FD_CLOEXEC, so dup2 onto 0..2 in the child
 *  never clobbers it. Closes the original. Returns the new fd or -1. */
static int
fd_high (int fd)
{
    if (fd < 0 || fd >= 3)
        return fd;
    int high = fcntl (fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close (fd);
    errno = saved;
    return high;
}

_Noreturn static void
child_fail (int err_fd, int stage)
{
    spawn_error_t e = { stage, errno };
    ssize_t rc = write (err_fd, &e, sizeof e);
    (void) rc;
    _exit (127);
}

/*  Runs in the child between fork and exec: async-signal-safe calls only. */
_Noreturn static void
child_exec (const char *path, char *const argv[], char **env,
            const hsn_proc_opts_t *opts, pid_t parent,
            int null_fd, int log_fd, int err_fd)
{
    setpgid (0, 0);
    if (opts->cwd && chdir (opts->cwd) < 0)
        child_fail (err_fd, STAGE_CHDIR);
    if (opts->set_ids) {
        if (setgroups (1, &opts->gid) < 0 || setgid (opts->gid) < 0
        ||  setuid (opts->uid) < 0)
            child_fail (err_fd, STAGE_IDS);
    }
    /*  After the id change: changing credentials clears the setting. */
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail (err_fd, STAGE_PDEATHSIG);
    if (getppid () != parent)
        _exit (127);            /* parent died before prctl took effect */

    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal (sig, SIG_DFL);

    if (dup2 (null_fd, 0) < 0 || dup2 (log_fd, 1) < 0 || dup2 (log_fd, 2) < 0)
        child_fail (err_fd, STAGE_FDS);
    /*  Leak none of the test's descriptors into the server. */
#ifdef CLOSE_RANGE_CLOEXEC
    if (close_range (3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
#endif
    {
        long max = sysconf (_SC_OPEN_MAX);
        if (max < 0 || max > 65536)
            max = 65536;
        for (int fd = 3; fd < max; fd++)
            if (fd != err_fd)
                fcntl (fd, F_SETFD, FD_CLOEXEC);
    }
    execvpe (path, argv, env);
    child_fail (err_fd, STAGE_EXEC);
}

static void
proc_free (hsn_proc_t *p)
{
    if (p->log_dir)
        hsn_tmpdir_remove (p->log_dir);
    free (p->log_dir);
    free (p->log_path);
    free (p->name);
    free (p);
}

/*  Become a child subreaper (once per process): what our children leave
 *  behind when they die (postgres backends after a crash, a shell's
 *  children) is re-parented to us rather than to init, so hsn_proc_destroy
 *  can reap it; some container inits never reap, and zombies pile up. */
static void
become_subreaper (void)
{
    static pid_t s_done_in;     /* the setting is not inherited by fork */
    if (s_done_in != getpid ()) {
        prctl (PR_SET_CHILD_SUBREAPER, 1);
        s_done_in = getpid ();
    }
}

hsn_proc_t *
hsn_proc_start_opts (const char *path, char *const argv[],
                     char *const env_extra[], const hsn_proc_opts_t *opts)
{
    hsn_proc_opts_t none;
    if (!opts) {
        memset (&none, 0, sizeof none);
        opts = &none;
    }
    if (!path || !argv || !argv [0]) {
        errno = EINVAL;
        return NULL;
    }
    hsn_proc_t *p = calloc (1, sizeof *p);
    if (!p)
        return NULL;
    const char *base = strrchr (path, '/');
    p->name = strdup (base ? base + 1 : path);
    if (!p->name)
        goto fail;
    if (opts->log_path)
        p->log_path = strdup (opts->log_path);
    else {
        p->log_dir = hsn_tmpdir ("proc");
        if (!p->log_dir
        ||  asprintf (&p->log_path, "%s/%s.log", p->log_dir, p->name) < 0)
            p->log_path = NULL;
    }
    if (!p->log_path)
        goto fail;

    char **env = build_env (env_extra);
    int log_fd = fd_high (open (p->log_path,
                                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    int null_fd = fd_high (open ("/dev/null", O_RDONLY | O_CLOEXEC));
    int err_pipe [2] = { -1, -1 };
    bool ok = env && log_fd >= 0 && null_fd >= 0
              && pipe2 (err_pipe, O_CLOEXEC) == 0;
    if (ok) {
        err_pipe [0] = fd_high (err_pipe [0]);
        err_pipe [1] = fd_high (err_pipe [1]);
        ok = err_pipe [0] >= 0 && err_pipe [1] >= 0;
    }
    become_subreaper ();
    pid_t parent = getpid ();
    pid_t pid = ok ? fork () : -1;
    if (pid == 0)
        child_exec (path, argv, env, opts, parent, null_fd, log_fd, err_pipe [1]);

    int saved = errno;
    spawn_error_t child_err = { 0, 0 };
    if (err_pipe [1] >= 0)
        close (err_pipe [1]);
    if (pid > 0) {
        /*  EOF on exec success (CLOEXEC), a spawn_error_t on failure. */
        ssize_t n;
        do
            n = read (err_pipe [0], &child_err, sizeof child_err);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t) sizeof child_err)
            child_err.stage = 0;
    }
    if (err_pipe [0] >= 0)
        close (err_pipe [0]);
    if (log_fd >= 0)
        close (log_fd);
    if (null_fd >= 0)
        close (null_fd);
    free (env);

    if (pid < 0) {
        fprintf (stderr, "hsn_proc_start %s: %s\n", path, strerror (saved));
        errno = saved;
        goto fail;
    }
    p->pid = pid;
    /*  Also set it from here, so the group exists before we return. */
    setpgid (pid, pid);
    if (child_err.stage) {
        int status;
        while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
            ;
        fprintf (stderr, "hsn_proc_start %s: %s: %s\n", path,
                 stage_name (child_err.stage), strerror (child_err.err));
        errno = child_err.err;
        goto fail;
    }
    return p;

fail:
    saved = errno;
    proc_free (p);
    errno = saved;
    return NULL;
}

hsn_proc_t *
hsn_proc_start (const char *path, char *const argv[], char *const env_extra[])
{
    return hsn_proc_start_opts (path, argv, env_extra, NULL);
}

pid_t
hsn_proc_pid (hsn_proc_t *p)
{
    return p->pid;
}

const char *
hsn_proc_log_path (hsn_proc_t *p)
{
    return p->log_path;
}

/*  For a process we cannot waitpid (another process started it, or SIGCHLD
 *  is ignored): whether /proc still shows it as a live (not zombie) task. */
static bool
proc_running_in_procfs (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    char *stat = hsn_read_file (path, NULL);
    if (!stat)
        return false;
    /*  "pid (comm) S ...": the state follows the last ')'. */
    const char *close_paren = strrchr (stat, ')');
    bool running = close_paren && close_paren [1] == ' '
                   && close_paren [2] != 'Z' && close_paren [2] != 'X';
    free (stat);
    return running;
}

/*  Reap without blocking. Returns whether the process has exited. */
static bool
proc_check_exited (hsn_proc_t *p)
{
    if (p->exited)
        return true;
    int status;
    pid_t rc;
    do
        rc = waitpid (p->pid, &status, WNOHANG);
    while (rc < 0 && errno == EINTR);
    if (rc == p->pid) {
        p->exited = true;
        p->status = status;
    }
    else
    if (rc < 0 && !proc_running_in_procfs (p->pid)) {
        p->exited = true;
        p->status = 0;          /* unknown: not our child to reap */
    }
    return p->exited;
}

static bool
proc_exited_cond (void *arg)
{
    return proc_check_exited ((hsn_proc_t *) arg);
}

int
hsn_proc_wait (hsn_proc_t *p, int timeout_ms, int *status)
{
    if (!hsn_wait_until (proc_exited_cond, p, timeout_ms))
        return -ETIMEDOUT;
    if (status)
        *status = p->status;
    return 0;
}

bool
hsn_proc_alive (hsn_proc_t *p)
{
    return !proc_check_exited (p);
}

int
hsn_proc_signal (hsn_proc_t *p, int sig)
{
    if (proc_check_exited (p))
        return -ESRCH;
    return kill (p->pid, sig) < 0 ? -errno : 0;
}

/*  Scan /proc for group pgid. Returns whether a live (not zombie) member
 *  remains; with reap, waits for the zombie members that are our children
 *  (orphans re-parented to us as subreaper). */
static bool
group_scan (pid_t pgid, bool reap)
{
    DIR *d = opendir ("/proc");
    if (!d)
        return false;
    bool live = false;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (!isdigit ((unsigned char) e->d_name [0]))
            continue;
        char path [300];
        snprintf (path, sizeof path, "/proc/%s/stat", e->d_name);
        char *stat = hsn_read_file (path, NULL);
        if (!stat)
            continue;
        /*  "pid (comm) S ppid pgrp ...": fields after the last ')'. */
        const char *at = strrchr (stat, ')');
        char state = 0;
        int ppid = 0, pgrp = 0;
        if (at && sscanf (at + 1, " %c %d %d", &state, &ppid, &pgrp) == 3
        &&  pgrp == (int) pgid) {
            if (state != 'Z' && state != 'X')
                live = true;
            else
            if (reap && ppid == (int) getpid ())
                waitpid ((pid_t) atoi (e->d_name), NULL, WNOHANG);
        }
        free (stat);
        if (live && !reap)
            break;
    }
    closedir (d);
    return live;
}

static bool
group_gone_cond (void *arg)
{
    return !group_scan (*(pid_t *) arg, false);
}

/*  A (pid, ppid) snapshot of every process, from /proc. Returns the count
 *  (*out_p allocated, caller frees) or -1. */
typedef struct {
    pid_t pid;
    pid_t ppid;
} pid_pair_t;

static ssize_t
process_table (pid_pair_t **out_p)
{
    DIR *d = opendir ("/proc");
    if (!d)
        return -1;
    size_t n = 0, cap = 256;
    pid_pair_t *t = malloc (cap * sizeof *t);
    struct dirent *e;
    while (t && (e = readdir (d))) {
        if (!isdigit ((unsigned char) e->d_name [0]))
            continue;
        char path [300];
        snprintf (path, sizeof path, "/proc/%s/stat", e->d_name);
        char *stat = hsn_read_file (path, NULL);
        if (!stat)
            continue;
        const char *at = strrchr (stat, ')');
        char state;
        int ppid;
        if (at && sscanf (at + 1, " %c %d", &state, &ppid) == 2) {
            if (n == cap) {
                pid_pair_t *bigger = realloc (t, 2 * cap * sizeof *t);
                if (!bigger) {
                    free (t);
                    t = NULL;
                    free (stat);
                    break;
                }
                t = bigger;
                cap *= 2;
            }
            t [n].pid = (pid_t) atoi (e->d_name);
            t [n].ppid = (pid_t) ppid;
            n++;
        }
        free (stat);
    }
    closedir (d);
    if (!t)
        return -1;
    *out_p = t;
    return (ssize_t) n;
}

typedef struct {
    const pid_t *pids;
    size_t count;
} pid_list_t;

/*  Whether every listed process is dead (gone, or a zombie). */
static bool
all_dead_cond (void *arg)
{
    pid_list_t *l = (pid_list_t *) arg;
    for (size_t i = 0; i < l->count; i++) {
        char path [64];
        snprintf (path, sizeof path, "/proc/%d/stat", (int) l->pids [i]);
        char *stat = hsn_read_file (path, NULL);
        if (!stat)
            continue;
        const char *at = strrchr (stat, ')');
        bool dead = at && (at [2] == 'Z' || at [2] == 'X');
        free (stat);
        if (!dead)
            return false;
    }
    return true;
}

int
hsn_proc_kill_tree (hsn_proc_t *p)
{
    if (proc_check_exited (p))
        return -ESRCH;
    /*  Stopped, it forks no new children while we list them. */
    kill (p->pid, SIGSTOP);
    pid_pair_t *table = NULL;
    ssize_t n = process_table (&table);
    pid_t *tree = n > 0 ? malloc ((size_t) n * sizeof *tree) : NULL;
    size_t count = 0;
    if (tree) {
        /*  Breadth first: a process joins after its parent. */
        tree [count++] = p->pid;
        for (size_t i = 0; i < count; i++)
            for (ssize_t j = 0; j < n; j++)
                if (table [j].ppid == tree [i] && table [j].pid != p->pid
                &&  count < (size_t) n)
                    tree [count++] = table [j].pid;
    }
    free (table);
    for (size_t i = 1; i < count; i++)
        kill (tree [i], SIGKILL);
    kill (-p->pid, SIGKILL);
    kill (p->pid, SIGKILL);
    /*  Once the leader is reaped its orphans are re-parented (to us, the
     *  subreaper); once they are dead, reap them too. */
    int rc = hsn_proc_wait (p, 5000, NULL);
    if (tree) {
        pid_list_t rest = { tree + 1, count - 1 };
        if (!hsn_wait_until (all_dead_cond, &rest, 5000))
            rc = -ETIMEDOUT;
        for (size_t i = 1; i < count; i++)
            waitpid (tree [i], NULL, WNOHANG);
        free (tree);
    }
    return rc;
}

bool
hsn_proc_group_alive (hsn_proc_t *p)
{
    return group_scan (p->pid, false);
}

int
hsn_proc_signal_group (hsn_proc_t *p, int sig)
{
    /*  The group can outlive its leader; the leader's pid cannot be reused
     *  while the group still exists. */
    return kill (-p->pid, sig) < 0 ? -errno : 0;
}

bool
hsn_proc_log_contains (hsn_proc_t *p, const char *needle)
{
    size_t len;
    char *log = hsn_read_file (p->log_path, &len);
    if (!log)
        return false;
    bool found = memmem (log, len, needle, strlen (needle)) != NULL;
    free (log);
    return found;
}

typedef struct {
    hsn_proc_t *p;
    const char *needle;
} log_wait_t;

static bool
log_contains_cond (void *arg)
{
    log_wait_t *w = (log_wait_t *) arg;
    return hsn_proc_log_contains (w->p, w->needle);
}

bool
hsn_proc_wait_log (hsn_proc_t *p, const char *needle, int timeout_ms)
{
    log_wait_t w = { p, needle };
    return hsn_wait_until (log_contains_cond, &w, timeout_ms);
}

void
hsn_proc_dump_log (hsn_proc_t *p, FILE *out, size_t max_bytes)
{
    if (!p)
        return;
    size_t len = 0;
    char *log = hsn_read_file (p->log_path, &len);
    fprintf (out, "---- %s (pid %d) log %s ----\n", p->name, (int) p->pid,
             p->log_path);
    if (log) {
        size_t from = (max_bytes && len > max_bytes) ? len - max_bytes : 0;
        if (from)
            fprintf (out, "[... %zu bytes skipped ...]\n", from);
        fwrite (log + from, 1, len - from, out);
        if (len > from && log [len - 1] != '\n')
            fputc ('\n', out);
        free (log);
    }
    else
        fprintf (out, "(cannot read: %s)\n", strerror (errno));
    fprintf (out, "---- end of %s log ----\n", p->name);
    fflush (out);
}

void
hsn_proc_destroy (hsn_proc_t **p_p)
{
    if (!p_p || !*p_p)
        return;
    hsn_proc_t *p = *p_p;
    *p_p = NULL;
    if (!proc_check_exited (p)) {
        kill (p->pid, SIGTERM);
        if (hsn_proc_wait (p, 5000, NULL) < 0) {
            fprintf (stderr, "hsn: %s (pid %d) ignored SIGTERM for 5 s, "
                     "killing it\n", p->name, (int) p->pid);
            kill (-p->pid, SIGKILL);
            kill (p->pid, SIGKILL);
            hsn_proc_wait (p, 5000, NULL);
        }
    }
    /*  Whatever it forked into its group and left behind: kill it, wait
     *  for it, and reap what was re-parented to us. */
    if (kill (-p->pid, SIGKILL) == 0) {
        if (!hsn_wait_until (group_gone_cond, &p->pid, 5000))
            fprintf (stderr, "hsn: process group %d of %s survives SIGKILL\n",
                     (int) p->pid, p->name);
        group_scan (p->pid, true);
    }
    proc_free (p);
}

/*  hsn_harness: waiting, free ports, temp dirs, files, project binaries.
 *  See hsn_harness.h. */
#include "hsn_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


bool
hsn_wait_until (bool (*cond) (void *arg), void *arg, int timeout_ms)
{
    long long deadline = hsn_now_ms () + (timeout_ms > 0 ? timeout_ms : 0);
    while (true) {
        if (cond (arg))
            return true;
        if (hsn_now_ms () >= deadline)
            return cond (arg);
        struct timespec pause = { 0, 2 * 1000 * 1000 };
        nanosleep (&pause, NULL);
    }
}

int
hsn_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa;
    memset (&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    sa.sin_port = 0;
    socklen_t len = sizeof sa;
    int rc = 0;
    if (bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0
    ||  getsockname (fd, (struct sockaddr *) &sa, &len) < 0)
        rc = -errno;
    else
        rc = ntohs (sa.sin_port);
    close (fd);
    return rc;
}

char *
hsn_tmpdir (const char *tag)
{
    const char *base = getenv ("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char real_base [PATH_MAX];
    if (!realpath (base, real_base)) {
        fprintf (stderr, "hsn_tmpdir: %s: %s\n", base, strerror (errno));
        return NULL;
    }
    char *path = NULL;
    if (asprintf (&path, "%s/hsn-%s-XXXXXX", real_base, tag ? tag : "tmp") < 0)
        return NULL;
    if (!mkdtemp (path)) {
        fprintf (stderr, "hsn_tmpdir: mkdtemp %s: %s\n", path, strerror (errno));
        free (path);
        return NULL;
    }
    return path;
}

static int
rm_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    int rc = (flag == FTW_DP) ? rmdir (path) : unlink (path);
    if (rc < 0 && errno != ENOENT)
        fprintf (stderr, "hsn_rm_rf: %s: %s\n", path, strerror (errno));
    return 0;       /* keep going; the final check reports failure */
}

int
hsn_rm_rf (const char *path)
{
    if (!path)
        return -EINVAL;
    struct stat st;
    if (lstat (path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (nftw (path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return -errno;
    if (lstat (path, &st) == 0)
        return -ENOTEMPTY;
    return 0;
}

void
hsn_tmpdir_remove (const char *path)
{
    if (!path)
        return;
    const char *keep = getenv ("HSN_KEEP_TMP");
    if (keep && *keep && strcmp (keep, "0") != 0) {
        fprintf (stderr, "hsn: keeping %s (HSN_KEEP_TMP)\n", path);
        return;
    }
    int rc = hsn_rm_rf (path);
    if (rc < 0)
        fprintf (stderr, "hsn: cannot remove %s: %s\n", path, strerror (-rc));
}

char *
hsn_read_file (const char *path, size_t *len)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, used = 0;
    char *buf = malloc (cap);
    while (buf) {
        if (cap - used < 2) {
            char *bigger = realloc (buf, cap * 2);
            if (!bigger) {
                free (buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read (fd, buf + used, cap - used - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            free (buf);
            buf = NULL;
            errno = saved;
            break;
        }
        if (n == 0)
            break;
        used += (size_t) n;
    }
    int saved = errno;
    close (fd);
    errno = saved;
    if (!buf)
        return NULL;
    buf [used] = '\0';
    if (len)
        *len = used;
    return buf;
}

int
hsn_write_file (const char *path, const char *data)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t left = strlen (data);
    while (left > 0) {
        ssize_t n = write (fd, data, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int rc = -errno;
            close (fd);
            return rc;
        }
        data += n;
        left -= (size_t) n;
    }
    if (close (fd) < 0)
        return -errno;
    return 0;
}

/*  hsn_bin cache: one path per name, alive until exit. */
typedef struct bin_entry {
    struct bin_entry *next;
    char *name;
    char *path;
} bin_entry_t;

static bin_entry_t *s_bins;
static pthread_mutex_t s_bins_lock = PTHREAD_MUTEX_INITIALIZER;

/*  <BUILD>/bin from /proc/self/exe, or NULL. Caller frees. */
static char *
bin_dir_from_exe (void)
{
    char exe [PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe [n] = '\0';
    /*  Walk up from the binary's directory to the nearest "tests". */
    char *slash = strrchr (exe, '/');
    while (slash && slash != exe) {
        *slash = '\0';
        char *prev = strrchr (exe, '/');
        if (!prev)
            break;
        if (strcmp (prev + 1, "tests") == 0) {
            *prev = '\0';
            char *dir = NULL;
            if (asprintf (&dir, "%s/bin", *exe ? exe : "") < 0)
                return NULL;
            return dir;
        }
        slash = prev;
    }
    return NULL;
}

const char *
hsn_bin (const char *name)
{
    pthread_mutex_lock (&s_bins_lock);
    bin_entry_t *e;
    for (e = s_bins; e; e = e->next)
        if (strcmp (e->name, name) == 0)
            break;
    if (!e) {
        char *dir = NULL;
        const char *env = getenv ("HSN_BIN_DIR");
        if (env && *env)
            dir = strdup (env);
        else
            dir = bin_dir_from_exe ();
        e = calloc (1, sizeof *e);
        if (e) {
            e->name = strdup (name);
            if (asprintf (&e->path, "%s/%s", dir ? dir : "build/bin", name) < 0)
                e->path = NULL;
            if (!e->name || !e->path) {
                free (e->name);
                free (e->path);
                free (e);
                e = NULL;
            }
            else {
                e->next = s_bins;
                s_bins = e;
            }
        }
        free (dir);
    }
    pthread_mutex_unlock (&s_bins_lock);
    if (!e) {
        fprintf (stderr, "hsn_bin: out of memory\n");
        abort ();
    }
    return e->path;
}

bool
hsn_port_bindable (void *arg)
{
    int port = *(int *) arg;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset (&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    sa.sin_port = htons ((uint16_t) port);
    bool ok = bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0;
    close (fd);
    return ok;
}

/* Whole files: atomic writes (temporary name, fsync, rename), whole-file reads, and the
 * writability check that commands run before long work. */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): for realpath */
#define _XOPEN_SOURCE 700
#include "io-impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A malloc'd copy of the directory part of path ("." when it has none). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/x" -> "/" */
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

/* The process umask, read without changing it (umask(2) can only be read by setting it,
 * which races with other threads creating files). Falls back to 022. */
static mode_t current_umask(void) {
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return mask;
    char line[128];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Umask:", 6) == 0) {
            char *end;
            unsigned long m = strtoul(line + 6, &end, 8);
            if (end != line + 6 && m <= 0777) mask = (mode_t)m;
            break;
        }
    fclose(f);
    return mask;
}

/* The descriptor /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N names, else -1. */
static int std_descriptor(const char *path) {
    if (strcmp(path, "/dev/stdout") == 0) return 1;
    if (strcmp(path, "/dev/stderr") == 0) return 2;
    const char *num = NULL;
    if (strncmp(path, "/dev/fd/", 8) == 0) num = path + 8;
    if (strncmp(path, "/proc/self/fd/", 14) == 0) num = path + 14;
    if (!num || *num < '0' || *num > '9') return -1;
    char *end;
    long fd = strtol(num, &end, 10);
    return *end == '\0' && fd <= 1 << 20 ? (int)fd : -1;
}

/* The end of the chain of symbolic links at path (40 at most, as the kernel allows), or a
 * copy of path when it is none. */
static char *follow_links(const char *path, int *too_many) {
    char *cur = strdup(path);
    *too_many = 0;
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
        if (hops == 40) {
            *too_many = 1;
            return cur;
        }
        char target[4096];
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (n <= 0) return cur;
        target[n] = '\0';
        char *next;
        if (target[0] == '/') {
            next = strdup(target);
        } else { /* relative to the link's directory */
            char *dir = dir_of(cur);
            size_t len = (dir ? strlen(dir) : 0) + strlen(target) + 2;
            next = dir ? malloc(len) : NULL;
            if (next) snprintf(next, len, "%s/%s", dir, target);
            free(dir);
        }
        free(cur);
        cur = next;
    }
    return NULL;
}

/* Written in place rather than replaced: a character device or a FIFO. */
static int inplace_kind(const struct stat *st) {
    return S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode);
}

int hesse_output_inplace(const char *path) {
    struct stat st;
    return path && (std_descriptor(path) >= 0 || (stat(path, &st) == 0 && inplace_kind(&st)));
}

int hesse_output_target(const char *path, char **resolved, int *inplace, int *fd) {
    *resolved = NULL;
    *inplace = 0;
    *fd = -1;
    if (!path || !*path) return hesse_error(HESSE_EINVAL, "output path is empty");
    if ((*fd = std_descriptor(path)) >= 0) {
        *inplace = 1;
        if (!(*resolved = strdup(path))) return hesse_error(HESSE_ENOMEM, "out of memory");
        return HESSE_OK;
    }
    int loop;
    char *r = follow_links(path, &loop);
    if (!r) return hesse_error(HESSE_ENOMEM, "%s: out of memory", path);
    if (loop) {
        free(r);
        return hesse_error(HESSE_EIO, "%s: too many levels of symbolic links", path);
    }
    struct stat st;
    int rc = HESSE_OK;
    if (stat(r, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            rc = hesse_error(HESSE_EIO, "%s: is a directory, expected a file name", path);
        else if (S_ISBLK(st.st_mode))
            rc = hesse_error(HESSE_EIO, "%s: is a block device; hesse writes no output onto one",
                             path);
        else if (inplace_kind(&st))
            *inplace = 1;
        else if (S_ISREG(st.st_mode) && ((st.st_mode & 0222) == 0 || access(r, W_OK) != 0))
            rc = hesse_error(HESSE_EIO,
                             "%s: is write-protected (mode %04o): make it writable or remove it "
                             "first",
                             path, (unsigned)(st.st_mode & 07777));
    }
    if (rc != HESSE_OK) {
        free(r);
        return rc;
    }
    *resolved = r;
    return HESSE_OK;
}

char *hesse_output_canonical(const char *resolved) {
    char *dir = dir_of(resolved);
    if (!dir) return NULL;
    const char *slash = strrchr(resolved, '/');
    const char *base = slash ? slash + 1 : resolved;
    char *real = realpath(dir, NULL);
    const char *d = real ? real : dir;
    size_t n = strlen(d) + strlen(base) + 2;
    char *c = malloc(n);
    if (c) snprintf(c, n, "%s/%s", d, base);
    free(real);
    free(dir);
    return c;
}

/* Written in place: the named descriptor duplicated, or the device or FIFO opened. */
static int open_inplace(hesse_atomic *a, int stdfd) {
    int fd = stdfd >= 0 ? fcntl(stdfd, F_DUPFD_CLOEXEC, 3) : open(a->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int rc = hesse_error(HESSE_EIO, "%s: cannot open for writing: %s", a->path, strerror(e));
        hesse_atomic_abort(a);
        return rc;
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        hesse_atomic_abort(a);
        return hesse_error(HESSE_EIO, "%s: opening for writing: %s", a->path, strerror(e));
    }
    return HESSE_OK;
}

int hesse_atomic_open(hesse_atomic *a, const char *path) {
    memset(a, 0, sizeof *a);
    int stdfd;
    int rc = hesse_output_target(path, &a->path, &a->inplace, &stdfd);
    if (rc != HESSE_OK || !a->path) return rc != HESSE_OK ? rc : HESSE_ENOMEM;
    if (a->inplace) return open_inplace(a, stdfd);
    size_t n = strlen(a->path) + 64;
    a->tmp = malloc(n);
    if (!a->tmp) {
        hesse_atomic_abort(a);
        return hesse_error(HESSE_ENOMEM, "%s: out of memory", path);
    }
    snprintf(a->tmp, n, "%s.tmp.%ld.XXXXXX", a->path, (long)getpid());
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int e = errno;
        free(a->tmp);
        a->tmp = NULL; /* nothing was created: abort must not remove anything */
        hesse_atomic_abort(a);
        return hesse_error(HESSE_EIO, "%s: creating a temporary file: %s", path, strerror(e));
    }
    /* mkstemp makes the file 0600; the result should carry the usual permissions. An
     * existing target keeps its mode. */
    struct stat st;
    mode_t mode = stat(a->path, &st) == 0 ? (st.st_mode & 07777) : (0666 & ~current_umask());
    (void)fchmod(fd, mode);
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        hesse_atomic_abort(a);
        return hesse_error(HESSE_EIO, "%s: opening the temporary file: %s", path, strerror(e));
    }
    return HESSE_OK;
}

int hesse_atomic_write(hesse_atomic *a, const void *data, size_t len) {
    if (!a->f) return hesse_error(HESSE_EIO, "%s: write after close", a->path ? a->path : "?");
    if (len == 0) return HESSE_OK;
    if (fwrite(data, 1, len, a->f) != len) {
        int e = errno;
        return hesse_error(HESSE_EIO, "%s: writing: %s", a->path, strerror(e));
    }
    return HESSE_OK;
}

void hesse_atomic_abort(hesse_atomic *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

/* fsync of the directory makes the rename itself durable; some file systems refuse it,
 * which is not an error for the file's content. */
static void sync_dir(const char *path) {
    char *dir = dir_of(path);
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int hesse_atomic_commit(hesse_atomic *a) {
    if (!a->f) {
        hesse_atomic_abort(a);
        return hesse_error(HESSE_EIO, "atomic write: file is not open");
    }
    const char *what = NULL;
    if (fflush(a->f) != 0 || ferror(a->f))
        what = "writing";
    else if (fsync(fileno(a->f)) != 0 && !(a->inplace && (errno == EINVAL || errno == EROFS)))
        what = "syncing"; /* devices and pipes cannot be synced: not an error for them */
    int e = errno;
    FILE *f = a->f;
    a->f = NULL;
    if (fclose(f) != 0 && !what) {
        what = "closing";
        e = errno;
    }
    int held = !what && a->tmp && hesse_outputs_hold(a->path, a->tmp);
    if (!what && a->tmp && !held && rename(a->tmp, a->path) != 0) {
        what = "renaming the temporary file into place";
        e = errno;
    }
    if (what) {
        int rc = hesse_error(HESSE_EIO, "%s: %s: %s", a->path, what, strerror(e ? e : EIO));
        hesse_atomic_abort(a);
        return rc;
    }
    if (a->tmp && !held) {
        sync_dir(a->path);
        free(a->tmp); /* renamed: nothing to remove */
    }
    a->tmp = NULL; /* renamed, or now the active output set's */
    hesse_atomic_abort(a);
    return HESSE_OK;
}

int hesse_write_file_atomic(const char *path, const void *data, size_t len) {
    return hesse_write_parts_atomic(path, 1, &data, &len);
}

int hesse_write_parts_atomic(const char *path, int nparts, const void *const *data,
                             const size_t *len) {
    for (int i = 0; i < nparts; i++)
        if (!data[i] && len[i]) return hesse_error(HESSE_EINVAL, "%s: no data to write", path);
    hesse_atomic a;
    int rc = hesse_atomic_open(&a, path);
    for (int i = 0; i < nparts && rc == HESSE_OK; i++) rc = hesse_atomic_write(&a, data[i], len[i]);
    if (rc != HESSE_OK) {
        hesse_atomic_abort(&a);
        return rc;
    }
    return hesse_atomic_commit(&a);
}

int hesse_output_check_dir(const char *path, const char *resolved) {
    char *dir = dir_of(resolved);
    if (!dir) return hesse_error(HESSE_ENOMEM, "%s: out of memory", path);
    struct stat st;
    int rc = HESSE_OK;
    if (stat(dir, &st) != 0)
        rc = hesse_error(HESSE_EIO, "%s: directory '%s' is not usable: %s", path, dir,
                         strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = hesse_error(HESSE_EIO, "%s: '%s' is not a directory", path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        rc = hesse_error(HESSE_EIO, "%s: directory '%s' is not writable: %s", path, dir,
                         strerror(errno));
    free(dir);
    return rc;
}

int hesse_check_writable(const char *path) {
    char *resolved = NULL;
    int inplace, fd;
    int rc = hesse_output_target(path, &resolved, &inplace, &fd);
    if (rc != HESSE_OK || !resolved) return rc != HESSE_OK ? rc : HESSE_ENOMEM;
    if (!inplace) rc = hesse_output_check_dir(path, resolved);
    free(resolved);
    return rc;
}

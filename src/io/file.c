/* Whole files: atomic writes (temporary name, fsync, rename), whole-file reads, and the
 * writability check that commands run before long work. */
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

int hesse_atomic_open(hesse_atomic *a, const char *path) {
    memset(a, 0, sizeof *a);
    if (!path || !*path) return hesse_error(HESSE_EINVAL, "atomic write: empty path");
    size_t n = strlen(path) + 64;
    a->path = strdup(path);
    a->tmp = malloc(n);
    if (!a->path || !a->tmp) {
        hesse_atomic_abort(a);
        return hesse_error(HESSE_ENOMEM, "%s: out of memory", path);
    }
    snprintf(a->tmp, n, "%s.tmp.%ld.XXXXXX", path, (long)getpid());
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
    mode_t mode = stat(path, &st) == 0 ? (st.st_mode & 07777) : (0666 & ~current_umask());
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
    if (fflush(a->f) != 0)
        what = "writing";
    else if (fsync(fileno(a->f)) != 0)
        what = "syncing";
    int e = errno;
    FILE *f = a->f;
    a->f = NULL;
    if (fclose(f) != 0 && !what) {
        what = "closing";
        e = errno;
    }
    if (!what && rename(a->tmp, a->path) != 0) {
        what = "renaming the temporary file into place";
        e = errno;
    }
    if (what) {
        int rc = hesse_error(HESSE_EIO, "%s: %s: %s", a->path, what, strerror(e));
        hesse_atomic_abort(a);
        return rc;
    }
    sync_dir(a->path);
    free(a->tmp); /* renamed: nothing to remove */
    a->tmp = NULL;
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

int hesse_read_file(const char *path, unsigned char **data, size_t *len) {
    if (!path || !data || !len) return hesse_error(HESSE_EINVAL, "hesse_read_file: NULL argument");
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        int e = errno;
        /* A path that names nothing readable is the user's input at fault (exit code 2);
         * anything else is the system's. */
        int status = (e == ENOENT || e == ENOTDIR || e == ENAMETOOLONG) ? HESSE_EINPUT : HESSE_EIO;
        return hesse_error(status, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hesse_error(HESSE_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return hesse_error(HESSE_EINPUT, "%s: is a directory, expected a file", path);
    }
    /* Regular files are read in one allocation of their size; pipes grow as they go. */
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size >= (uint64_t)SIZE_MAX) cap = 0;
    unsigned char *buf = cap ? malloc(cap) : NULL;
    size_t n = 0;
    int rc = HESSE_OK;
    if (!buf) {
        rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %lld bytes to read it", path,
                         (long long)st.st_size);
        goto cleanup;
    }
    for (;;) {
        if (n + 1 >= cap) {
            /* Full: a regular file is normally at its end now; probe before growing so
             * that reading it never doubles the allocation. */
            unsigned char probe;
            ssize_t got = read(fd, &probe, 1);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                rc = hesse_error(HESSE_EIO, "%s: reading: %s", path, strerror(errno));
                goto cleanup;
            }
            if (got == 0) break;
            size_t ncap = cap * 2;
            unsigned char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                rc = hesse_error(HESSE_ENOMEM, "%s: out of memory after %zu bytes", path, n);
                goto cleanup;
            }
            buf = nb;
            cap = ncap;
            buf[n++] = probe;
            continue;
        }
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0) {
            if (errno == EINTR) continue;
            rc = hesse_error(HESSE_EIO, "%s: reading: %s", path, strerror(errno));
            goto cleanup;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
cleanup:
    free(buf);
    close(fd);
    return rc;
}

int hesse_check_writable(const char *path) {
    if (!path || !*path) return hesse_error(HESSE_EINVAL, "output path is empty");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return hesse_error(HESSE_EIO, "%s: is a directory, expected a file name", path);
    char *dir = dir_of(path);
    if (!dir) return hesse_error(HESSE_ENOMEM, "%s: out of memory", path);
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

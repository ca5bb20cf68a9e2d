/* Reading whole files, regular or not: pipes, /proc files and devices, with a limit decided by
 * the input's own header (hesse_read_file_sized), so that no endless source is read blindly.
 * Used by the dataset, model and document readers alike. */
#include "data-impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A read that can end early: a non-regular input (a pipe, a device) is read only as far as
 * its own header says it reaches, and never past cap. */
typedef struct {
    hesse_read_size_fn size;
    void *ctx;
    size_t cap;
} read_limit;

static int read_all(const char *path, const read_limit *lim, unsigned char **data, size_t *len) {
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
    const int regular = S_ISREG(st.st_mode);
    size_t total = SIZE_MAX; /* a non-regular input's length, once its header told it */
    size_t told = 0;         /* bytes the size function has seen */
    /* Regular files are read in one allocation of their size; pipes grow as they go. */
    size_t cap = regular && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    if (regular && (uint64_t)st.st_size >= (uint64_t)SIZE_MAX) cap = 0;
    unsigned char *buf = cap ? malloc(cap) : NULL;
    size_t n = 0;
    int rc = HESSE_OK;
    if (!buf) {
        rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %lld bytes to read it", path,
                         (long long)st.st_size);
        goto cleanup;
    }
    for (;;) {
        if (!regular && lim) {
            if (total == SIZE_MAX && lim->size) lim->size(lim->ctx, buf, n, told, &total);
            told = n;
            if (n >= total) {
                n = total;
                break;
            }
            if (total == SIZE_MAX && n > lim->cap) {
                rc = hesse_error(HESSE_EINPUT,
                                 "%s: more than %zu bytes from a file that is not a regular "
                                 "file, and its content does not say where it ends",
                                 path, lim->cap);
                goto cleanup;
            }
        }
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
        size_t want = cap - 1 - n;
        if (!regular && lim && total != SIZE_MAX && total - n < want) want = total - n;
        ssize_t got = read(fd, buf + n, want);
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

int hesse_read_file(const char *path, unsigned char **data, size_t *len) {
    return read_all(path, NULL, data, len);
}

int hesse_read_file_sized(const char *path, hesse_read_size_fn size, void *ctx, size_t cap,
                          unsigned char **data, size_t *len) {
    read_limit lim = {size, ctx, cap};
    return read_all(path, &lim, data, len);
}

void hesse_read_size_text(void *ctx, const unsigned char *data, size_t have, size_t from,
                          size_t *total) {
    (void)ctx;
    const unsigned char *nul = have > from ? memchr(data + from, '\0', have - from) : NULL;
    if (nul) *total = (size_t)(nul - data) + 1; /* text ends at a NUL: nothing after it counts */
}

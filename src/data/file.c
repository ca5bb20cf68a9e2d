/* Reading dataset files that may or may not be gzip-compressed, and small path helpers.
 *
 * The IDX and CIFAR readers see one byte stream whatever the file holds: the first two bytes
 * decide (gzip's magic 1f 8b), so "train-images-idx3-ubyte" may be compressed and
 * "x.gz" may be plain. Every message names the file. */
#include "data-impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* gzread takes an unsigned count; reads are split so that the count stays far from its top. */
#define GZ_CHUNK ((size_t)1 << 30)
/* The first allocation for data of unknown backing (gzip); it doubles as data arrives. */
#define GROW_START ((size_t)1 << 24)

int hesse_data_file_open(hesse_data_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    f->path = path;
    f->size = -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return hesse_error(errno == EIO ? HESSE_EIO : HESSE_EINPUT, "%s: cannot open (%s)", path,
                           strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        close(fd);
        return hesse_error(HESSE_EINPUT, "%s: not a readable file", path);
    }
    unsigned char magic[2] = {0, 0};
    ssize_t m;
    do m = read(fd, magic, 2);
    while (m < 0 && errno == EINTR);
    if (m < 0 || lseek(fd, 0, SEEK_SET) != 0) {
        int e = errno;
        close(fd);
        return hesse_error(HESSE_EIO, "%s: cannot read (%s)", path, strerror(e));
    }
    if (m == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        f->gz = gzdopen(fd, "rb");
        if (!f->gz) {
            close(fd);
            return hesse_error(HESSE_ENOMEM, "%s: cannot start gzip decompression", path);
        }
        gzbuffer(f->gz, 1u << 18); /* fewer, larger reads of the compressed file */
    } else {
        f->raw = fdopen(fd, "rb");
        if (!f->raw) {
            int e = errno;
            close(fd);
            return hesse_error(HESSE_EIO, "%s: cannot open (%s)", path, strerror(e));
        }
        f->size = (int64_t)st.st_size;
    }
    return HESSE_OK;
}

void hesse_data_file_close(hesse_data_file *f) {
    if (f->gz) gzclose(f->gz);
    if (f->raw) fclose(f->raw);
    f->gz = NULL;
    f->raw = NULL;
}

int hesse_data_file_read(hesse_data_file *f, void *buf, size_t len, size_t *got) {
    *got = 0;
    if (f->raw) {
        *got = fread(buf, 1, len, f->raw);
        if (*got < len && ferror(f->raw))
            return hesse_error(HESSE_EIO, "%s: read failed (%s)", f->path, strerror(errno));
        return HESSE_OK;
    }
    unsigned char *p = buf;
    while (*got < len) {
        size_t want = len - *got < GZ_CHUNK ? len - *got : GZ_CHUNK;
        int r = gzread(f->gz, p + *got, (unsigned)want);
        int errnum = Z_OK;
        const char *msg = gzerror(f->gz, &errnum);
        if (r < 0 || (errnum != Z_OK && errnum != Z_BUF_ERROR)) {
            if (errnum == Z_ERRNO)
                return hesse_error(HESSE_EIO, "%s: read failed (%s)", f->path, strerror(errno));
            /* zlib prefixes the name it knows, "<fd:3>" for gzdopen: ours is better. */
            if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ">: "))
                msg = strstr(msg, ">: ") + 3;
            return hesse_error(HESSE_EINPUT, "%s: corrupt gzip data (%s)", f->path, msg);
        }
        *got += (size_t)r;
        /* zlib reports an input that stops inside the stream as Z_BUF_ERROR, "unexpected end
         * of file"; the caller words the message since it knows what was expected. */
        if (errnum == Z_BUF_ERROR) f->truncated = 1;
        if ((size_t)r < want) break;
    }
    return HESSE_OK;
}

int hesse_data_file_read_exact(hesse_data_file *f, size_t need, size_t offset, uint8_t **out) {
    int rc = HESSE_OK;
    *out = NULL;
    uint8_t *buf = NULL;
    size_t got = 0;
    if (f->raw) {
        /* The size is known: refuse before allocating anything. */
        uint64_t want = (uint64_t)offset + need;
        if ((uint64_t)f->size < want)
            return hesse_error(HESSE_EINPUT, "%s: truncated file (expected %llu bytes, got %lld)",
                               f->path, (unsigned long long)want, (long long)f->size);
        if ((uint64_t)f->size > want)
            return hesse_error(HESSE_EINPUT,
                               "%s: %lld trailing bytes (the header declares %llu bytes, the file "
                               "has %lld)",
                               f->path, (long long)((uint64_t)f->size - want),
                               (unsigned long long)want, (long long)f->size);
        buf = malloc(need ? need : 1);
        if (!buf) return hesse_error(HESSE_ENOMEM, "%s: cannot allocate %zu bytes", f->path, need);
        HESSE_CHECK(hesse_data_file_read(f, buf, need, &got));
        if (got < need) {
            rc = hesse_error(HESSE_EINPUT, "%s: truncated file (expected %zu bytes, got %zu)",
                             f->path, offset + need, offset + got);
            goto cleanup;
        }
        *out = buf;
        return HESSE_OK;
    }
    size_t cap = need < GROW_START ? need : GROW_START;
    buf = malloc(cap ? cap : 1);
    if (!buf) return hesse_error(HESSE_ENOMEM, "%s: cannot allocate %zu bytes", f->path, cap);
    while (got < need) {
        if (got == cap) {
            size_t next = cap > need / 2 ? need : 2 * cap;
            uint8_t *grown = realloc(buf, next);
            if (!grown) {
                rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %zu bytes", f->path, next);
                goto cleanup;
            }
            buf = grown;
            cap = next;
        }
        size_t n = 0;
        HESSE_CHECK(hesse_data_file_read(f, buf + got, cap - got, &n));
        got += n;
        if (n == 0 || f->truncated) break;
    }
    if (got < need) {
        rc = hesse_error(HESSE_EINPUT, "%s: truncated gzip stream (expected %zu bytes, got %zu)",
                         f->path, offset + need, offset + got);
        goto cleanup;
    }
    /* One more byte: data beyond what the header declares, a missing trailer and a failing
     * CRC check all show up here. */
    unsigned char extra;
    size_t n = 0;
    HESSE_CHECK(hesse_data_file_read(f, &extra, 1, &n));
    if (n > 0) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: trailing data after the %zu bytes the header declares (gzip)",
                         f->path, offset + need);
        goto cleanup;
    }
    if (f->truncated) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: truncated gzip stream (all %zu bytes present, the gzip trailer is "
                         "missing)",
                         f->path, offset + need);
        goto cleanup;
    }
    *out = buf;
    return HESSE_OK;
cleanup:
    free(buf);
    return rc;
}

int hesse_data_read_all(const char *path, uint8_t **out, size_t *len) {
    int rc = HESSE_OK;
    *out = NULL;
    *len = 0;
    hesse_data_file f;
    uint8_t *buf = NULL;
    HESSE_CHECK(hesse_data_file_open(&f, path));
    size_t cap = f.raw ? (size_t)f.size : GROW_START, got = 0;
    buf = malloc(cap ? cap : 1);
    if (!buf) {
        rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %zu bytes", path, cap);
        goto cleanup;
    }
    for (;;) {
        if (got == cap) {
            if (f.raw) {
                /* The file was as large as fstat said; make sure it did not grow since. */
                unsigned char extra;
                size_t n = 0;
                HESSE_CHECK(hesse_data_file_read(&f, &extra, 1, &n));
                if (n == 0) break;
                rc = hesse_error(HESSE_EIO, "%s: the file changed while being read", path);
                goto cleanup;
            }
            if (cap > SIZE_MAX / 2) {
                rc = hesse_error(HESSE_ENOMEM, "%s: too large", path);
                goto cleanup;
            }
            uint8_t *grown = realloc(buf, 2 * cap);
            if (!grown) {
                rc = hesse_error(HESSE_ENOMEM, "%s: cannot allocate %zu bytes", path, 2 * cap);
                goto cleanup;
            }
            buf = grown;
            cap *= 2;
        }
        size_t n = 0;
        HESSE_CHECK(hesse_data_file_read(&f, buf + got, cap - got, &n));
        got += n;
        if (f.truncated) {
            rc = hesse_error(HESSE_EINPUT, "%s: truncated gzip stream (got %zu bytes)", path, got);
            goto cleanup;
        }
        if (n == 0 || (f.raw && got < cap)) break;
    }
    *out = buf;
    *len = got;
    buf = NULL;
cleanup:
    free(buf);
    hesse_data_file_close(&f);
    return rc;
}

int hesse_data_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int hesse_data_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int hesse_data_join(char *buf, size_t cap, const char *dir, const char *file) {
    size_t d = strlen(dir);
    while (d > 0 && dir[d - 1] == '/') d--; /* "dir/" and "dir" name the same files */
    int w = snprintf(buf, cap, "%.*s/%s", (int)d, dir, file);
    if (w < 0 || (size_t)w >= cap)
        return hesse_error(HESSE_EINPUT, "%s/%s: path longer than %zu bytes", dir, file, cap - 1);
    return HESSE_OK;
}

/* io/ internals shared by its files: a growable byte buffer, JSON text helpers, and a
 * streaming atomic file (temporary name + fsync + rename). Not installed. */
#ifndef HESSE_IO_IMPL_H
#define HESSE_IO_IMPL_H

#include <hesse/io.h>

#include <stdio.h>

/* The formats io/ writes are little-endian and it writes host memory as is. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hesse's io/ module assumes a little-endian host"
#endif

/* ---- Growable buffer -------------------------------------------------------------------
 * Appends never fail silently: the first allocation failure sets `failed` (and the last
 * error to HESSE_ENOMEM); later appends are ignored, and hesse_iobuf_status reports it. */
typedef struct {
    char *data; /* NUL-terminated while len < cap */
    size_t len, cap;
    int failed;
} hesse_iobuf;

void hesse_iobuf_append(hesse_iobuf *b, const void *data, size_t len);
void hesse_iobuf_puts(hesse_iobuf *b, const char *s);
void hesse_iobuf_printf(hesse_iobuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quotes included), escaping '"', '\\' and control characters. */
void hesse_iobuf_json_string(hesse_iobuf *b, const char *s);
/* A JSON number that reads back as exactly v ("null" when v is not finite; -0 as "-0.0"). */
void hesse_iobuf_json_number(hesse_iobuf *b, double v);
int hesse_iobuf_status(const hesse_iobuf *b);
void hesse_iobuf_free(hesse_iobuf *b);

/* ---- Streaming atomic file -------------------------------------------------------------
 * open creates "<path>.tmp.<pid>.XXXXXX" beside path; write appends; commit flushes, fsyncs
 * and renames it onto path; abort removes the temporary file. commit releases everything
 * whether it succeeds or not; abort after commit (or after a failed open) does nothing, so
 * a cleanup label may always call it. Errors are HESSE_EIO "<path>: <what>: <reason>". */
typedef struct {
    FILE *f;
    char *tmp;  /* NULL when written in place */
    char *path; /* the file written: a symbolic link's target */
    int inplace;
} hesse_atomic;

/* ---- Output targets (file.c, outputs.c) ------------------------------------------------
 * The file a writer of `path` writes (*resolved, malloc'd: the end of a chain of symbolic
 * links) and how: *fd >= 0 for /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N (the
 * descriptor to duplicate), *inplace for those and for character devices and FIFOs. The
 * refusals of hesse_check_writable (HESSE_EIO). */
int hesse_output_target(const char *path, char **resolved, int *inplace, int *fd);
/* The check of hesse_check_writable for a file target (not written in place): the
 * directory of `resolved` exists and is writable; messages name `path`. */
int hesse_output_check_dir(const char *path, const char *resolved);
/* A path's directory resolved (realpath) and its last component: equal for two names of one
 * file that may not exist yet. malloc'd, NULL when out of memory. */
char *hesse_output_canonical(const char *resolved);
/* Called by commit with a finished temporary file for `resolved`: 1 when the active set
 * stages that output and now owns tmp (rename deferred), 0 otherwise. */
int hesse_outputs_hold(const char *resolved, char *tmp);

int hesse_atomic_open(hesse_atomic *a, const char *path);
int hesse_atomic_write(hesse_atomic *a, const void *data, size_t len);
int hesse_atomic_commit(hesse_atomic *a);
void hesse_atomic_abort(hesse_atomic *a);

/* ---- Tracked training (track.c) ------------------------------------------------------------
 * The columns of a "tracking" object that the plot, the report and the verdict read. */
typedef struct {
    int64_t n;
    double *step;    /* [n] */
    double *top;     /* [k * n]: top[j * n + i] = series[i].top[j] (NaN where absent) */
    int k;           /* columns of top (at most 16) */
    double *pre;     /* [n] series[i].preconditioned[0] (NaN where absent), or NULL: none */
    double *thr;     /* [n] 2 / lr_i (the row's lr; the tracking's when a row has none) */
    double *thr_pre; /* [n] (2 + 2 beta1) / ((1 - beta1) lr_i), or NULL without beta1 */
    double threshold, threshold_pre; /* the tracking object's, or from its lr (NaN: none) */
} hesse_track_data;
/* HESSE_EINVAL when tracking is not an object, HESSE_EINPUT without a "series" array of
 * objects (messages start with fn), HESSE_ENOMEM. */
int hesse_track_data_read(const cJSON *tracking, hesse_track_data *d, const char *fn);
void hesse_track_data_free(hesse_track_data *d);

#endif /* HESSE_IO_IMPL_H */

/* data/ internals shared by the format readers (idx.c, cifar.c), the dataset object
 * (dataset.c) and selection (select.c). Not installed. */
#ifndef HESSE_DATA_IMPL_H
#define HESSE_DATA_IMPL_H

#include <hesse/data.h>

#include <stdio.h>
#include <zlib.h>

/* A split as stored: exactly one of bytes / values is non-NULL, both [n, c*h*w] row-major in
 * NCHW order. Everything is allocated with malloc and owned by the dataset. */
struct hesse_dataset {
    char *name; /* "fashion-mnist/train", ... */
    int64_t n;
    int c, h, w;
    int num_classes;
    int targets;     /* labels per sample, P (0 reads as 1) */
    int tokens;      /* the bytes are token ids (text): automatic scale 1, no normalisation */
    uint8_t *bytes;  /* uint8 pixels, or NULL */
    double *values;  /* double values, or NULL */
    int32_t *labels; /* n * P labels in [0, num_classes) */
};

/* Labels per sample of ds (P >= 1). */
/* hesse_dataset_from_arrays with `targets` labels per sample (labels holds n * targets). */
int hesse_data_from_arrays(const char *name, int64_t n, int c, int h, int w, int num_classes,
                           int targets, const uint8_t *pixels, const double *values,
                           const int32_t *labels, hesse_dataset **out);
static inline int hesse_data_targets(const hesse_dataset *ds) {
    return ds->targets > 1 ? ds->targets : 1;
}

/* An empty dataset with a copy of `name` (all counts zero, no arrays); NULL and a
 * HESSE_ENOMEM detail when out of memory. Release with hesse_dataset_free. */
hesse_dataset *hesse_data_new(const char *name);

/* ---- Files that may be gzip-compressed (file.c) --------------------------------------------
 * Whether a file is gzip is decided by its first two bytes (1f 8b), never by its name. */
typedef struct {
    const char *path; /* borrowed, for messages */
    FILE *raw;        /* a plain file, or NULL */
    gzFile gz;        /* a gzip file, or NULL */
    int64_t size;     /* plain file: its size in bytes; gzip: -1 (known only once read) */
    int truncated;    /* gzip: the compressed stream ended before its end marker and trailer */
} hesse_data_file;

/* Opens path for reading. A missing or unreadable file is HESSE_EINPUT naming it. */
int hesse_data_file_open(hesse_data_file *f, const char *path);
void hesse_data_file_close(hesse_data_file *f);

/* Reads up to len bytes; *got < len means the data ended (for gzip, f->truncated says whether
 * it ended early). Corrupt gzip data is HESSE_EINPUT, a failing read HESSE_EIO. */
int hesse_data_file_read(hesse_data_file *f, void *buf, size_t len, size_t *got);

/* Reads exactly `need` more bytes into a new malloc'ed buffer and checks that nothing follows
 * them (and, for gzip, that the stream ends cleanly). `offset` is how many bytes were read
 * before, so that messages give whole-file counts ("expected 47040016 bytes, got 1000").
 * The buffer grows as data arrives, so a corrupt header cannot claim memory the file does not
 * back. */
int hesse_data_file_read_exact(hesse_data_file *f, size_t need, size_t offset, uint8_t **out);

/* Reads the whole (decompressed) content of path into a new malloc'ed buffer. */
int hesse_data_read_all(const char *path, uint8_t **out, size_t *len);

/* ---- Paths (file.c) --------------------------------------------------------------------- */
int hesse_data_is_dir(const char *path);
int hesse_data_is_file(const char *path);
/* buf = dir "/" file; HESSE_EINPUT when it does not fit in cap. */
int hesse_data_join(char *buf, size_t cap, const char *dir, const char *file);

/* ---- Format readers ----------------------------------------------------------------------- */
enum { HESSE_DATA_PATH_MAX = 4096 };

/* Whether dir holds any IDX file of the MNIST family (with or without .gz). */
int hesse_data_idx_present(const char *dir);
/* Opens one split of an IDX directory; the dataset is called `name`. */
int hesse_data_open_idx_dir(const char *dir, hesse_split split, const char *name,
                            hesse_dataset **out);

/* CIFAR binary versions: 10 (data_batch_{1..5}.bin, test_batch.bin) or 100 (train.bin,
 * test.bin, fine labels). */
int hesse_data_cifar_present(const char *dir, int version);
int hesse_data_open_cifar(const char *dir, int version, hesse_split split, const char *name,
                          hesse_dataset **out);

/* The formats data/ reads are little-endian (safetensors) and it reads them into host memory. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "hesse's data/ module assumes a little-endian host"
#endif

/* ---- Little-endian loads (unaligned) ---------------------------------------------------- */
static inline uint16_t hesse_le16(const unsigned char *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t hesse_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t hesse_le64(const unsigned char *p) {
    return (uint64_t)hesse_le32(p) | ((uint64_t)hesse_le32(p + 4) << 32);
}

#endif

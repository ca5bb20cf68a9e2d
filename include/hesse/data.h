/* hesse/data.h: datasets (IDX, CIFAR binary, in-memory arrays), subsets, preprocessing.
 *
 * A hesse_dataset is a source as stored on disk (raw bytes or floats, one split); selecting
 * from it gives hesse_samples: the chosen samples, preprocessed to double, ready for a
 * network. safetensors datasets are read by io/ (hesse_dataset_read_safetensors), which
 * builds a dataset through hesse_dataset_from_arrays.
 *
 * Room: data/ owns reading datasets and choosing and preprocessing samples; it knows nothing of
 * networks. Ownership and threads: a dataset is immutable once opened, so threads may select
 * from one at once; hesse_samples own their arrays when `owns` is set (hesse_samples_free) and
 * are read-only to the engine, so several engines may share them. */
#ifndef HESSE_DATA_H
#define HESSE_DATA_H

#include <hesse/core.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HESSE_MAX_CHANNELS 16
/* The most classes a dataset may declare (a language model's vocabulary fits). */
#define HESSE_MAX_CLASSES (1 << 20)

/* Samples ready for a network: x is row-major [n, c*h*w] in PyTorch's NCHW order. */
typedef struct {
    int64_t n;
    int c, h, w;     /* per-sample shape; flat data has h = w = 1 */
    int num_classes; /* labels lie in [0, num_classes) */
    double *x;       /* n * c*h*w values */
    int32_t *y;      /* n labels */
    int64_t *source; /* each sample's index in its dataset split (may be NULL) */
    int owns;        /* 1 when x, y, source belong to this struct (hesse_samples_free) */
    int64_t total;   /* samples over all shards when these are one rank's shard of a
                        distributed run (the mean loss divides by it); 0: n */
} hesse_samples;

/* Values per sample, c*h*w. */
int64_t hesse_samples_dim(const hesse_samples *s);
/* The samples a mean runs over: s->total when set, else s->n. */
int64_t hesse_samples_total(const hesse_samples *s);
/* A view of samples [begin, begin + count) that shares memory with s (owns = 0); the range is
 * clamped to [0, s->n). */
hesse_samples hesse_samples_slice(const hesse_samples *s, int64_t begin, int64_t count);
/* Frees what s owns and zeroes it; safe on a view or a zeroed struct. */
void hesse_samples_free(hesse_samples *s);
/* The SHA-256 (64 hex digits) of the samples' content: their count, shape and number of
 * classes, every value of x as used (after preprocessing) and every label, in order. Two
 * selections hash alike exactly when a network sees the same data. */
void hesse_samples_hash(const hesse_samples *s, char hex[65]);

typedef enum { HESSE_SPLIT_TRAIN = 0, HESSE_SPLIT_TEST = 1 } hesse_split;

typedef struct hesse_dataset hesse_dataset;

/* Opens a dataset split by name or path:
 *   "fashion-mnist"          Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
 *                            or $HESSE_FASHION_MNIST_DIR when set)
 *   DIR with IDX files       train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 *                            t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] (MNIST
 *                            family)
 *   DIR with CIFAR binaries  data_batch_{1..5}.bin + test_batch.bin (CIFAR-10) or
 *                            train.bin + test.bin (CIFAR-100, fine labels)
 *   "cifar10:DIR", "cifar100:DIR", "idx:DIR"   the same with the format named.
 * Errors name the file at fault and what was expected (HESSE_EINPUT, HESSE_EIO). */
int hesse_dataset_open(const char *spec, hesse_split split, hesse_dataset **out);

/* Reads one IDX images file and one IDX labels file (gzip or raw, told apart by content).
 * Images are [n, 1, rows, cols] uint8; the class count is 10, or the largest label + 1. */
int hesse_dataset_open_idx(const char *images_path, const char *labels_path, hesse_dataset **out);

/* A dataset over arrays that are copied: either pixels (uint8, scaled by default preprocess)
 * or values (double), exactly one non-NULL. Labels must lie in [0, num_classes). */
int hesse_dataset_from_arrays(const char *name, int64_t n, int c, int h, int w, int num_classes,
                              const uint8_t *pixels, const double *values, const int32_t *labels,
                              hesse_dataset **out);
void hesse_dataset_free(hesse_dataset *ds);

int64_t hesse_dataset_size(const hesse_dataset *ds);
void hesse_dataset_shape(const hesse_dataset *ds, int *c, int *h, int *w);
int hesse_dataset_num_classes(const hesse_dataset *ds);
const char *hesse_dataset_name(const hesse_dataset *ds);         /* e.g. "fashion-mnist/train" */
int hesse_dataset_is_bytes(const hesse_dataset *ds);             /* 1 for uint8 pixel storage */
int32_t hesse_dataset_label(const hesse_dataset *ds, int64_t i); /* -1 when i is out of range */
/* The stored split, [n, c*h*w] row-major: the uint8 pixels (NULL for double storage) or the
 * double values (NULL for uint8 storage). Borrowed; valid until hesse_dataset_free. */
const uint8_t *hesse_dataset_pixels(const hesse_dataset *ds);
const double *hesse_dataset_values(const hesse_dataset *ds);

/* Which samples to take. */
typedef enum {
    HESSE_SELECT_FIRST = 0,    /* the first n in file order (the default) */
    HESSE_SELECT_BALANCED = 1, /* the first n/C of every class in file order (the remainder,
                                  if any, one more for the lowest classes); nested in n */
    HESSE_SELECT_RANDOM = 2    /* n distinct samples drawn with the seed, in file order */
} hesse_select_mode;

typedef struct {
    hesse_select_mode mode;
    int64_t n; /* 0 or negative: all */
    uint64_t seed;
} hesse_selection;

/* Preprocessing: x = (raw * scale - mean[ch]) / std[ch]. */
typedef struct {
    double scale; /* 0: automatic (raw / 255 for uint8 storage, raw for double) */
    int channels; /* 0: no normalisation; otherwise must equal the data's channel count */
    double mean[HESSE_MAX_CHANNELS], std[HESSE_MAX_CHANNELS];
} hesse_preprocess;

hesse_selection hesse_selection_defaults(void);   /* FIRST, all, seed 0 */
hesse_preprocess hesse_preprocess_defaults(void); /* automatic scale, no normalisation */

/* Materialises the selected samples into an owning out (source filled, ascending). sel and pre
 * may be NULL for the defaults; n <= 0 takes the whole split whatever the mode. Fails with
 * HESSE_EINVAL when n exceeds the split, a balanced selection cannot be met by some class
 * (the message names the class, the count needed and the count found), or the preprocess does
 * not fit; out is then zeroed. */
int hesse_dataset_select(const hesse_dataset *ds, const hesse_selection *sel,
                         const hesse_preprocess *pre, hesse_samples *out);

/* Copies samples idx[0..count) of src into dst, which must own buffers of at least that size
 * and the same shape (used for shuffled minibatches). Sets dst->n = count; dst->source gets
 * src->source[idx[i]] (or idx[i] when src has none). */
void hesse_samples_gather(const hesse_samples *src, const int64_t *idx, int64_t count,
                          hesse_samples *dst);
/* Allocates an owning set of n samples of the given shape: x and y uninitialised, source
 * 0 .. n-1. */
int hesse_samples_alloc(int64_t n, int c, int h, int w, int num_classes, hesse_samples *out);

/* A short description of a selection for results: "first 1000", "balanced 1000",
 * "random 1000 (seed 7)". */
void hesse_selection_describe(const hesse_selection *sel, char *buf, size_t cap);

/* Builds a preprocess from strings "m1,m2,..." and "s1,s2,...", checking counts (at most
 * HESSE_MAX_CHANNELS) and that every std is positive; option names the command-line option for
 * the error message (HESSE_EINVAL). The scale stays automatic. */
int hesse_preprocess_parse(const char *mean, const char *std, const char *option,
                           hesse_preprocess *pre);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_DATA_H */

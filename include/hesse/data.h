/* hesse/data.h: datasets (IDX, CIFAR binary, in-memory arrays), subsets, preprocessing.
 *
 * A hesse_dataset is a source as stored on disk (raw bytes or floats, one split); selecting
 * from it gives hesse_samples: the chosen samples, preprocessed to double, ready for a
 * network. hesse_dataset_open tells the kinds apart by the path (IDX or CIFAR directory,
 * safetensors file, the name fashion-mnist). The safetensors reader lives here too, for datasets
 * and for io/'s model files.
 *
 * Room: data/ owns reading datasets and choosing and preprocessing samples; it knows nothing of
 * networks. Ownership and threads: a dataset is immutable once opened, so threads may select
 * from one at once; hesse_samples own their arrays when `owns` is set (hesse_samples_free) and
 * are read-only to the engine, so several engines may share them. */
#ifndef HESSE_DATA_H
#define HESSE_DATA_H

#include <hesse/export.h>
#include <hesse/core.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HESSE_MAX_CHANNELS 16
/* The most classes a dataset may declare (a language model's vocabulary fits). */
#define HESSE_MAX_CLASSES (1 << 20)

/* Samples ready for a network: x is row-major [n, c*h*w] in PyTorch's NCHW order. A sample has
 * P = targets labels (a sequence: one per position, P = T for text windows; 1 for a class),
 * sample i's at y[i * P .. i * P + P). */
typedef struct {
    int64_t n;
    int c, h, w;     /* per-sample shape; flat data has h = w = 1 */
    int num_classes; /* labels lie in [0, num_classes) */
    double *x;       /* n * c*h*w values */
    int32_t *y;      /* n * P labels */
    int64_t *source; /* each sample's index in its dataset split (may be NULL) */
    int owns;        /* 1 when x, y, source belong to this struct (hesse_samples_free) */
    int64_t total;   /* samples over all shards when these are one rank's shard of a
                        distributed run (the mean loss divides by it); 0: n */
    int targets;     /* labels per sample, P >= 1; 0 reads as 1 (hesse_samples_targets). Last,
                        so that the fields before it keep their offsets */
} hesse_samples;

/* Values per sample, c*h*w. */
HESSE_API int64_t hesse_samples_dim(const hesse_samples *s);
/* The samples a mean runs over: s->total when set, else s->n. */
HESSE_API int64_t hesse_samples_total(const hesse_samples *s);
/* Labels per sample, P: s->targets when set, else 1. */
HESSE_API int hesse_samples_targets(const hesse_samples *s);
/* The labelled positions a mean over positions runs over: hesse_samples_total(s) * P (the
 * denominator of a per-position accuracy). */
HESSE_API int64_t hesse_samples_positions(const hesse_samples *s);
/* A view of samples [begin, begin + count) that shares memory with s (owns = 0); the range is
 * clamped to [0, s->n). */
HESSE_API hesse_samples hesse_samples_slice(const hesse_samples *s, int64_t begin, int64_t count);
/* Frees what s owns and zeroes it; safe on a view or a zeroed struct. */
HESSE_API void hesse_samples_free(hesse_samples *s);
/* The SHA-256 (64 hex digits) of the samples' content: their count, shape and number of
 * classes, every value of x as used (after preprocessing) and every label, in order. Two
 * selections hash alike exactly when a network sees the same data. */
HESSE_API void hesse_samples_hash(const hesse_samples *s, char hex[65]);

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
 *   "gaussmix:classes=C,dim=D,separation=S[,seed=N][,samples=M][,test=T][,noise=SIGMA]"
 *                            synthetic Gaussian classes (hesse_dataset_gaussmix)
 *   "text:FILE"              a file's bytes as token ids (hesse_dataset_text, context 64);
 *                            "text:fortunes" names Debian's fortunes corpus (hesse_text_find)
 *   FILE.safetensors         one split as safetensors (hesse_dataset_read_safetensors): the
 *                            file is the split, so only HESSE_SPLIT_TRAIN is accepted
 *                            (HESSE_EINVAL otherwise: name the test split's file instead).
 * Errors name the file at fault and what was expected (HESSE_EINPUT, HESSE_EIO). */
HESSE_API int hesse_dataset_open(const char *spec, hesse_split split, hesse_dataset **out);

/* ---- Synthetic class-structured data ------------------------------------------------------
 * A mixture of C isotropic Gaussians in R^D: class means mu_c = (S / sqrt 2)(q_c - q_bar)
 * with q_c orthonormal (a seeded Gaussian C x D matrix orthonormalised by Gram-Schmidt) and
 * q_bar their average: a regular simplex centred at the origin, ||mu_c - mu_c'|| = S for every
 * pair, ||mu_c|| = S sqrt((C - 1) / (2C)), sum_c mu_c = 0; sample i of a split has label
 * i mod C (every prefix is class-balanced) and x_i = mu_{y_i} + noise * z_i, z_i ~ N(0, I_D).
 * The means come from stream 0 of the seed, the training samples from stream 1 and the test
 * samples from stream 2 (hesse_rng_seed_stream), so the splits are independent draws and
 * neither depends on the other's size. Samples are flat: c = D, h = w = 1, stored as
 * doubles. */
typedef struct {
    int classes, dim;  /* C >= 2, C <= D (the means are orthogonal) */
    double separation; /* S > 0: the distance between any two class means */
    uint64_t seed;
    int64_t samples, test; /* samples in the training and the test split (default 5000, 1000) */
    double noise;          /* the standard deviation sigma of each coordinate (default 1) */
} hesse_gaussmix;

/* classes = dim = 0, separation 0, seed 0, samples 5000, test 1000, noise 1. */
HESSE_API hesse_gaussmix hesse_gaussmix_defaults(void);
/* Whether spec starts with "gaussmix:". */
HESSE_API int hesse_gaussmix_is_spec(const char *spec);
/* Parses "gaussmix:key=value,..." (keys classes, dim, separation required; seed, samples,
 * test, noise optional, each at most once). HESSE_EINVAL naming the spec and the key at fault:
 * an unknown or repeated key, a value out of range, C > D, or a split beyond 2^28 values. */
HESSE_API int hesse_gaussmix_parse(const char *spec, hesse_gaussmix *out);
/* The class means, row-major [C, D], into means (C * D doubles). */
HESSE_API int hesse_gaussmix_means(const hesse_gaussmix *g, double *means);
/* The canonical spec with every key ("gaussmix:classes=10,...,noise=1"). */
HESSE_API void hesse_gaussmix_name(const hesse_gaussmix *g, char *buf, size_t cap);
/* Generates one split; the dataset is named after the canonical spec plus "/train" or
 * "/test". */
HESSE_API int hesse_dataset_gaussmix(const hesse_gaussmix *g, hesse_split split,
                                     hesse_dataset **out);

/* ---- Text as bytes -------------------------------------------------------------------------
 * A file read as bytes (vocabulary V = 256) cut into windows of T = context bytes: window i
 * holds bytes [s_i, s_i + T) of the split as input ids and [s_i + 1, s_i + T + 1) as its T
 * next-byte targets, s_i = i T (the windows tile the split; the bytes after the last whole
 * window and its one target byte are left out). A sample is (c, h, w) = (1, T, 1), ids stored
 * as bytes and handed to the network as the doubles 0..255 (no /255: automatic scale 1, and no
 * per-channel normalisation), P = T targets, num_classes 256. The split is by position: the
 * last tenth of the file (floor(L / 10) bytes of L) is the test split, the rest the training
 * split; windows never cross the cut. The dataset is named "text:NAME/train" or "/test" after
 * the file's (or directory's) last path component. */
#define HESSE_TEXT_PREFIX          "text:"
#define HESSE_TEXT_CONTEXT_DEFAULT 64
#define HESSE_TEXT_CONTEXT_MAX     65536
/* The file's test split: the last floor(L / HESSE_TEXT_TEST_DIVISOR) bytes. */
#define HESSE_TEXT_TEST_DIVISOR 10

/* Whether spec starts with "text:". */
HESSE_API int hesse_text_is_spec(const char *spec);
/* The file or directory a "text:..." spec names into path (cap bytes): the part after "text:",
 * except the name "fortunes", which is looked up as Debian's fortunes corpus: the directory
 * $HESSE_FORTUNES_DIR when that is set, else the first of /usr/share/games/fortunes,
 * /usr/share/fortunes, /usr/share/fortune, provided it holds a file "fortunes" (a path such as
 * text:./fortunes is taken as it is). HESSE_EINPUT naming the directories searched when none
 * has it (install the Debian package fortunes). */
HESSE_API int hesse_text_find(const char *spec, char *path, size_t cap);
/* Opens one split of a text file as windows of `context` bytes (above). A directory is read as
 * one text: its regular files (links followed) sorted by name (strcmp), less hidden files, the
 * strfile indexes *.dat and files already read under another name (a link to one, as Debian's
 * NAME.u8 -> NAME), concatenated (the fortunes corpus). HESSE_EINVAL when
 * context is outside [1, HESSE_TEXT_CONTEXT_MAX]; HESSE_EINPUT naming the file when it is
 * missing or unreadable, or when the split is shorter than one window plus its target byte
 * (context + 1 bytes). */
HESSE_API int hesse_dataset_text(const char *path, int context, hesse_split split,
                                 hesse_dataset **out);
/* Labels per sample of a dataset (P: the context for text, 1 otherwise). */
HESSE_API int hesse_dataset_targets(const hesse_dataset *ds);
/* 1 when the dataset's bytes are token ids (text), not pixels: scale 1, no normalisation. */
HESSE_API int hesse_dataset_is_tokens(const hesse_dataset *ds);

/* ---- Label noise ----------------------------------------------------------------------------
 * Zhang et al. 2017 / Xie et al. 2022's corrupted labels: exactly round(fraction * m) of the
 * m = n * P labels (P = 1: the samples; text: the next-byte targets), chosen uniformly without
 * replacement, each get a class drawn uniformly from the other num_classes - 1 (so every chosen
 * label changes). The draws come from stream 2 of `seed`
 * (hesse_rng_seed_stream; streams 0 and 1 are hesse train's initialisation and shuffling), so
 * the same samples in the same order, fraction and seed give the same labels. Changes s->y in
 * place. fraction must lie in [0, 1) and the samples have at least two classes when any label
 * changes (HESSE_EINVAL otherwise, s untouched). *changed (may be NULL) gets the count. */
HESSE_API int hesse_samples_label_noise(hesse_samples *s, double fraction, uint64_t seed,
                                        int64_t *changed);

/* Reads one IDX images file and one IDX labels file (gzip or raw, told apart by content).
 * Images are [n, 1, rows, cols] uint8; the class count is 10, or the largest label + 1. */
HESSE_API int hesse_dataset_open_idx(const char *images_path, const char *labels_path,
                                     hesse_dataset **out);

/* A dataset over arrays that are copied: either pixels (uint8, scaled by default preprocess)
 * or values (double), exactly one non-NULL. Labels must lie in [0, num_classes). */
HESSE_API int hesse_dataset_from_arrays(const char *name, int64_t n, int c, int h, int w,
                                        int num_classes, const uint8_t *pixels,
                                        const double *values, const int32_t *labels,
                                        hesse_dataset **out);
HESSE_API void hesse_dataset_free(hesse_dataset *ds);

HESSE_API int64_t hesse_dataset_size(const hesse_dataset *ds);
HESSE_API void hesse_dataset_shape(const hesse_dataset *ds, int *c, int *h, int *w);
HESSE_API int hesse_dataset_num_classes(const hesse_dataset *ds);
HESSE_API const char *hesse_dataset_name(const hesse_dataset *ds); /* e.g. "fashion-mnist/train" */
HESSE_API int hesse_dataset_is_bytes(const hesse_dataset *ds);     /* 1 for uint8 pixel storage */
/* Label i of the split's n * P labels (sample i / P, position i % P); -1 when i is out of range. */
HESSE_API int32_t hesse_dataset_label(const hesse_dataset *ds, int64_t i);
/* The stored split, [n, c*h*w] row-major: the uint8 pixels (NULL for double storage) or the
 * double values (NULL for uint8 storage). Borrowed; valid until hesse_dataset_free. */
HESSE_API const uint8_t *hesse_dataset_pixels(const hesse_dataset *ds);
HESSE_API const double *hesse_dataset_values(const hesse_dataset *ds);

/* Which samples to take. */
typedef enum {
    HESSE_SELECT_FIRST = 0,    /* the first n in file order (the default) */
    HESSE_SELECT_BALANCED = 1, /* the first n/C of every class in file order (the remainder,
                                  if any, one more for the lowest classes); nested in n. A
                                  dataset of sequences (P > 1 labels a sample) has no class per
                                  sample: balanced is FIRST there */
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

HESSE_API hesse_selection hesse_selection_defaults(void);   /* FIRST, all, seed 0 */
HESSE_API hesse_preprocess hesse_preprocess_defaults(void); /* automatic scale, no normalisation */

/* Materialises the selected samples into an owning out (source filled, ascending). sel and pre
 * may be NULL for the defaults; n <= 0 takes the whole split whatever the mode. Fails with
 * HESSE_EINVAL when n exceeds the split, a balanced selection cannot be met by some class
 * (the message names the class, the count needed and the count found), or the preprocess does
 * not fit; out is then zeroed. */
HESSE_API int hesse_dataset_select(const hesse_dataset *ds, const hesse_selection *sel,
                                   const hesse_preprocess *pre, hesse_samples *out);

/* Copies samples idx[0..count) of src into dst, which must own buffers of at least that size
 * and the same shape and P (used for shuffled minibatches). Sets dst->n = count; dst->source gets
 * src->source[idx[i]] (or idx[i] when src has none). */
HESSE_API void hesse_samples_gather(const hesse_samples *src, const int64_t *idx, int64_t count,
                                    hesse_samples *dst);
/* Allocates an owning set of n samples of the given shape: x and y uninitialised, source
 * 0 .. n-1, one label a sample. */
HESSE_API int hesse_samples_alloc(int64_t n, int c, int h, int w, int num_classes,
                                  hesse_samples *out);
/* The same with P = targets labels a sample (y holds n * P). */
HESSE_API int hesse_samples_alloc_targets(int64_t n, int c, int h, int w, int num_classes,
                                          int targets, hesse_samples *out);
/* An owning set of n samples shaped like s (shape, classes, P), as hesse_samples_alloc. */
HESSE_API int hesse_samples_alloc_like(const hesse_samples *s, int64_t n, hesse_samples *out);

/* A short description of a selection for results: "first 1000", "balanced 1000",
 * "random 1000 (seed 7)". */
HESSE_API void hesse_selection_describe(const hesse_selection *sel, char *buf, size_t cap);

/* Builds a preprocess from strings "m1,m2,..." and "s1,s2,...", checking counts (at most
 * HESSE_MAX_CHANNELS) and that every std is positive; option names the command-line option for
 * the error message (HESSE_EINVAL). The scale stays automatic. */
HESSE_API int hesse_preprocess_parse(const char *mean, const char *std, const char *option,
                                     hesse_preprocess *pre);

/* ---- Reading files -------------------------------------------------------------------- */

/* Reads a whole file into a buffer (NUL-terminated for convenience; *len excludes
 * the NUL). Works on pipes and /proc files too. A missing path or a directory is
 * HESSE_EINPUT (the user named a wrong file); a failing read or open otherwise is HESSE_EIO;
 * both name the path. Release with hesse_free. */
HESSE_API int hesse_read_file(const char *path, unsigned char **data, size_t *len);
/* Decides from the first `have` bytes of an input how long it is: sets *total once the
 * bytes tell (else leaves it; called again as more arrive). data[from, have) are the bytes
 * that arrived since the last call. */
typedef void (*hesse_read_size_fn)(void *ctx, const unsigned char *data, size_t have, size_t from,
                                   size_t *total);
/* hesse_read_file for inputs that say their own length (a header): a regular file is read
 * whole as there, anything else (a pipe, a device such as /dev/zero) only as far as `size`
 * says it reaches, and refused (HESSE_EINPUT naming it) past `cap` bytes before `size` could
 * tell. No gigabytes are read from an endless source before its first bytes are looked at. */
HESSE_API int hesse_read_file_sized(const char *path, hesse_read_size_fn size, void *ctx,
                                    size_t cap, unsigned char **data, size_t *len);
/* The most a text input that is not a regular file (a pipe) may hold: 256 MiB. */
#define HESSE_TEXT_STREAM_MAX ((size_t)256 << 20)
/* A hesse_read_size_fn for text formats (JSON, CSV): a NUL byte ends the input. */
HESSE_API void hesse_read_size_text(void *ctx, const unsigned char *data, size_t have, size_t from,
                                    size_t *total);

/* ---- safetensors ------------------------------------------------------------------------
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F64", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "value"}}, then the data block (offsets relative to its start). */

typedef enum {
    HESSE_DTYPE_F64,
    HESSE_DTYPE_F32,
    HESSE_DTYPE_F16,
    HESSE_DTYPE_BF16,
    HESSE_DTYPE_I64,
    HESSE_DTYPE_I32,
    HESSE_DTYPE_I16,
    HESSE_DTYPE_I8,
    HESSE_DTYPE_U8,
    HESSE_DTYPE_BOOL,
    HESSE_DTYPE_U16,
    HESSE_DTYPE_U32,
    HESSE_DTYPE_U64
} hesse_dtype;

/* Bytes per element (F64: 8, BF16: 2, BOOL: 1, ...). */
HESSE_API size_t hesse_dtype_size(hesse_dtype dtype);
/* IEEE binary16 and bfloat16 bit patterns to double, exactly (subnormals, +-inf and NaN
 * included). */
HESSE_API double hesse_f16_to_double(uint16_t bits);
HESSE_API double hesse_bf16_to_double(uint16_t bits);

#define HESSE_ST_MAX_DIMS 8

typedef struct {
    const char *name;
    hesse_dtype dtype;
    int ndim;
    int64_t shape[HESSE_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* byte offsets in the data block */
} hesse_st_tensor;

typedef struct hesse_st_file hesse_st_file;

/* Reads and validates a safetensors file: header length within the file (and at most
 * 100 MB), valid JSON object, known dtypes, at most HESSE_ST_MAX_DIMS non-negative integer
 * dimensions whose element count does not overflow and matches the byte range, ranges inside
 * the data block and not overlapping, unique names, string metadata. Everything is checked
 * before the call returns, so later accessors cannot fail on the file's content. Errors are
 * HESSE_EINPUT, one line naming the file and the tensor. The file is read into memory. */
HESSE_API int hesse_st_open(const char *path, hesse_st_file **out);
/* The same over a buffer (copied); `label` names it in error messages. */
HESSE_API int hesse_st_open_memory(const void *data, size_t len, const char *label,
                                   hesse_st_file **out);
/* Frees the file; the tensors, names, metadata strings and data pointers it handed out
 * stay valid until then. An open file is read-only, so threads may share it. NULL-safe. */
HESSE_API void hesse_st_close(hesse_st_file *f);
HESSE_API const char *hesse_st_path(const hesse_st_file *f);
HESSE_API int hesse_st_count(const hesse_st_file *f);
HESSE_API const hesse_st_tensor *hesse_st_at(const hesse_st_file *f, int i);
HESSE_API const hesse_st_tensor *hesse_st_find(const hesse_st_file *f, const char *name);
/* Converts a tensor's values to double (floats exactly, F16/BF16 widened, integers as
 * values: 64-bit ones beyond 2^53 rounded; BOOL as 0/1). dst holds t->numel doubles. */
HESSE_API int hesse_st_read_f64(const hesse_st_file *f, const hesse_st_tensor *t, double *dst);
/* Raw bytes of a tensor (t->end - t->begin of them), little-endian as stored. */
HESSE_API const void *hesse_st_data(const hesse_st_file *f, const hesse_st_tensor *t);
/* A metadata value, or NULL when the file has no such key. */
HESSE_API const char *hesse_st_meta(const hesse_st_file *f, const char *key);
HESSE_API int hesse_st_meta_count(const hesse_st_file *f);
HESSE_API const char *hesse_st_meta_key(const hesse_st_file *f, int i);
HESSE_API const char *hesse_dtype_name(hesse_dtype dtype);

/* A dataset stored as safetensors: "x" (U8 pixels, or F64/F32/F16/BF16 values, which must
 * be finite; shape [N, C, H, W], [N, H, W] (C = 1) or [N, D] (c = D, h = w = 1)) and "y"
 * (integer labels >= 0, shape [N]); metadata "num_classes" optional (else max(y) + 1; when
 * given, every label must be below it). The dataset is named after the path. Errors
 * (HESSE_EINPUT) name the file and tensor. */
HESSE_API int hesse_dataset_read_safetensors(const char *path, hesse_dataset **out);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_DATA_H */

/* data/: IDX (raw and gzip) and CIFAR-10/100 files written here with known contents and read
 * back exactly; every malformed-file case returns the right status and names the file;
 * selections (first, balanced, random) and preprocessing; and, when Debian's Fashion-MNIST is
 * installed, the real files against bytes and a SHA-256 taken with zcat, od and sha256sum. */
#include <hesse/data.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"

/* Expects `expr` to fail with `status` and the last error to contain every given string. */
#define CHECK_FAIL(expr, status, ...)                                                              \
    do {                                                                                           \
        int r_ = (expr);                                                                           \
        CHECK_MSG(r_ == (status), "status %d, expected %d (%s)", r_, (status),                     \
                  hesse_last_error());                                                             \
        const char *subs_[] = {__VA_ARGS__};                                                       \
        for (size_t s_ = 0; s_ < sizeof subs_ / sizeof subs_[0]; s_++)                             \
            CHECK_MSG(strstr(hesse_last_error(), subs_[s_]) != NULL, "\"%s\" lacks \"%s\"",        \
                      hesse_last_error(), subs_[s_]);                                              \
    } while (0)

static char tmp[64];

/* tmp/name in a rotating set of buffers, so that a few can be live at once. */
static const char *at(const char *name) {
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", tmp, name);
    return b;
}

static void rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[1024];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void write_file(const char *path, const void *data, size_t len, int gz) {
    if (gz) {
        gzFile g = gzopen(path, "wb");
        REQUIRE(g != NULL);
        REQUIRE(len == 0 || gzwrite(g, data, (unsigned)len) == (int)len);
        REQUIRE(gzclose(g) == Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        REQUIRE(f != NULL);
        REQUIRE(fwrite(data, 1, len, f) == len);
        REQUIRE(fclose(f) == 0);
    }
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Known contents: pixel k of sample i, and its label. */
static uint8_t pix(int64_t i, int64_t k) {
    return (uint8_t)((i * 37 + k * 11 + 5) % 256);
}
static uint8_t lab(int64_t i) {
    return (uint8_t)((i * 7 + 3) % 10);
}

/* An IDX images file of n h x w images with the given magic. */
static void write_idx_images(const char *path, uint32_t magic, int n, int h, int w, int gz) {
    size_t len = 16 + (size_t)n * h * w;
    unsigned char *b = malloc(len);
    REQUIRE(b != NULL);
    put_be32(b, magic);
    put_be32(b + 4, (uint32_t)n);
    put_be32(b + 8, (uint32_t)h);
    put_be32(b + 12, (uint32_t)w);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < h * w; k++) b[16 + (size_t)i * h * w + k] = pix(i, k);
    write_file(path, b, len, gz);
    free(b);
}

/* An IDX labels file of n labels, lab(i) unless `labels` is given. */
static void write_idx_labels(const char *path, int n, const uint8_t *labels, int gz) {
    unsigned char *b = malloc(8 + (size_t)n);
    REQUIRE(b != NULL);
    put_be32(b, 0x00000801);
    put_be32(b + 4, (uint32_t)n);
    for (int i = 0; i < n; i++) b[8 + i] = labels ? labels[i] : lab(i);
    write_file(path, b, 8 + (size_t)n, gz);
    free(b);
}

/* Checks that ds holds exactly pix/lab for n images of h x w (through a selection of all
 * samples with scale 1, which must give the raw bytes as doubles). */
static void check_idx_content(const hesse_dataset *ds, int n, int h, int w) {
    CHECK(hesse_dataset_size(ds) == n);
    int c = 0, hh = 0, ww = 0;
    hesse_dataset_shape(ds, &c, &hh, &ww);
    CHECK(c == 1 && hh == h && ww == w);
    CHECK(hesse_dataset_num_classes(ds) == 10);
    CHECK(hesse_dataset_is_bytes(ds) == 1);
    hesse_preprocess raw = hesse_preprocess_defaults();
    raw.scale = 1;
    hesse_samples s;
    REQUIRE(hesse_dataset_select(ds, NULL, &raw, &s) == HESSE_OK);
    int ok = s.n == n && s.owns == 1 && s.num_classes == 10;
    for (int i = 0; ok && i < n; i++) {
        ok &= s.y[i] == lab(i) && s.source[i] == i;
        for (int k = 0; k < h * w; k++) ok &= s.x[(size_t)i * h * w + k] == pix(i, k);
    }
    CHECK(ok);
    hesse_samples_free(&s);
}

static void test_idx_read(void) {
    /* Images raw, labels gzip; then images gzip under a name without ".gz", labels raw. */
    write_idx_images(at("img"), 0x00000803, 7, 5, 4, 0);
    write_idx_labels(at("lab.gz"), 7, NULL, 1);
    hesse_dataset *ds = NULL;
    REQUIRE(hesse_dataset_open_idx(at("img"), at("lab.gz"), &ds) == HESSE_OK);
    check_idx_content(ds, 7, 5, 4);
    CHECK(strcmp(hesse_dataset_name(ds), "img") == 0);
    CHECK(hesse_dataset_label(ds, 6) == lab(6));
    CHECK(hesse_dataset_label(ds, 7) == -1 && hesse_dataset_label(ds, -1) == -1);
    CHECK(hesse_dataset_values(ds) == NULL && hesse_dataset_pixels(ds)[21] == pix(1, 1));
    hesse_dataset_free(ds);

    write_idx_images(at("img-gz-content"), 0x00000803, 7, 5, 4, 1);
    write_idx_labels(at("lab-raw"), 7, NULL, 0);
    /* The gzip file must really be compressed (starts 1f 8b) for this case to mean anything. */
    FILE *f = fopen(at("img-gz-content"), "rb");
    REQUIRE(f != NULL);
    CHECK(fgetc(f) == 0x1f && fgetc(f) == 0x8b);
    fclose(f);
    REQUIRE(hesse_dataset_open_idx(at("img-gz-content"), at("lab-raw"), &ds) == HESSE_OK);
    check_idx_content(ds, 7, 5, 4);
    hesse_dataset_free(ds);

    /* Labels above 9 raise the class count to the largest label + 1. */
    uint8_t big[7] = {0, 1, 2, 12, 4, 5, 6};
    write_idx_labels(at("lab-big"), 7, big, 0);
    REQUIRE(hesse_dataset_open_idx(at("img"), at("lab-big"), &ds) == HESSE_OK);
    CHECK(hesse_dataset_num_classes(ds) == 13 && hesse_dataset_label(ds, 3) == 12);
    hesse_dataset_free(ds);
}

static void test_idx_dir(void) {
    REQUIRE(mkdir(at("mnist"), 0700) == 0);
    write_idx_images(at("mnist/train-images-idx3-ubyte"), 0x00000803, 12, 3, 3, 0);
    write_idx_labels(at("mnist/train-labels-idx1-ubyte.gz"), 12, NULL, 1);
    write_idx_images(at("mnist/t10k-images-idx3-ubyte.gz"), 0x00000803, 5, 3, 3, 1);
    write_idx_labels(at("mnist/t10k-labels-idx1-ubyte"), 5, NULL, 0);

    hesse_dataset *ds = NULL;
    REQUIRE(hesse_dataset_open(at("mnist"), HESSE_SPLIT_TRAIN, &ds) == HESSE_OK);
    check_idx_content(ds, 12, 3, 3);
    CHECK(strcmp(hesse_dataset_name(ds), "mnist/train") == 0);
    hesse_dataset_free(ds);
    char spec[600];
    snprintf(spec, sizeof spec, "idx:%s/", at("mnist"));
    REQUIRE(hesse_dataset_open(spec, HESSE_SPLIT_TEST, &ds) == HESSE_OK);
    check_idx_content(ds, 5, 3, 3);
    CHECK(strcmp(hesse_dataset_name(ds), "mnist/test") == 0);
    hesse_dataset_free(ds);

    /* "fashion-mnist" follows $HESSE_FASHION_MNIST_DIR. */
    const char *old = getenv("HESSE_FASHION_MNIST_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("HESSE_FASHION_MNIST_DIR", at("mnist"), 1);
    REQUIRE(hesse_dataset_open("fashion-mnist", HESSE_SPLIT_TEST, &ds) == HESSE_OK);
    CHECK(hesse_dataset_size(ds) == 5);
    CHECK(strcmp(hesse_dataset_name(ds), "fashion-mnist/test") == 0);
    hesse_dataset_free(ds);
    setenv("HESSE_FASHION_MNIST_DIR", at("no-such-dir"), 1);
    CHECK_FAIL(hesse_dataset_open("fashion-mnist", HESSE_SPLIT_TEST, &ds), HESSE_EINPUT,
               "no-such-dir", "dataset-fashion-mnist");
    if (saved)
        setenv("HESSE_FASHION_MNIST_DIR", saved, 1);
    else
        unsetenv("HESSE_FASHION_MNIST_DIR");
    free(saved);

    /* A missing file lists both names looked for. */
    unlink(at("mnist/t10k-labels-idx1-ubyte"));
    CHECK_FAIL(hesse_dataset_open(at("mnist"), HESSE_SPLIT_TEST, &ds), HESSE_EINPUT,
               "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz");
    CHECK(ds == NULL);
    REQUIRE(mkdir(at("empty"), 0700) == 0);
    CHECK_FAIL(hesse_dataset_open(at("empty"), HESSE_SPLIT_TRAIN, &ds), HESSE_EINPUT, "empty",
               "train-images-idx3-ubyte", "data_batch_1.bin", "train.bin");
    CHECK_FAIL(hesse_dataset_open(at("nowhere"), HESSE_SPLIT_TRAIN, &ds), HESSE_EINPUT, "nowhere");
    CHECK_FAIL(hesse_dataset_open(at("mnist"), (hesse_split)5, &ds), HESSE_EINVAL, "split");
}

static void test_idx_errors(void) {
    hesse_dataset *ds = (hesse_dataset *)&ds; /* must come back NULL */
    const int n = 50, h = 28, w = 28;
    const char *expect = "expected 39216 bytes"; /* 16 + 50 * 784 */
    write_idx_labels(at("l50"), n, NULL, 0);

    /* Truncated gzip: half the compressed file. */
    write_idx_images(at("trunc.gz"), 0x00000803, n, h, w, 1);
    REQUIRE(truncate(at("trunc.gz"), file_size(at("trunc.gz")) / 2) == 0);
    CHECK_FAIL(hesse_dataset_open_idx(at("trunc.gz"), at("l50"), &ds), HESSE_EINPUT, at("trunc.gz"),
               "truncated gzip stream", expect);
    CHECK(ds == NULL);

    /* All data present but the 8-byte gzip trailer cut off. */
    write_idx_images(at("notrailer.gz"), 0x00000803, n, h, w, 1);
    REQUIRE(truncate(at("notrailer.gz"), file_size(at("notrailer.gz")) - 8) == 0);
    CHECK_FAIL(hesse_dataset_open_idx(at("notrailer.gz"), at("l50"), &ds), HESSE_EINPUT,
               at("notrailer.gz"), "truncated gzip stream", "trailer");

    /* A wrong CRC in the trailer. */
    write_idx_images(at("badcrc.gz"), 0x00000803, n, h, w, 1);
    FILE *f = fopen(at("badcrc.gz"), "r+b");
    REQUIRE(f != NULL);
    REQUIRE(fseek(f, -8, SEEK_END) == 0);
    int byte = fgetc(f);
    REQUIRE(fseek(f, -8, SEEK_END) == 0);
    fputc(byte ^ 0xff, f);
    fclose(f);
    CHECK_FAIL(hesse_dataset_open_idx(at("badcrc.gz"), at("l50"), &ds), HESSE_EINPUT,
               at("badcrc.gz"), "corrupt gzip data");

    /* Truncated raw file: 100 bytes short. */
    write_idx_images(at("trunc"), 0x00000803, n, h, w, 0);
    REQUIRE(truncate(at("trunc"), 16 + n * h * w - 100) == 0);
    CHECK_FAIL(hesse_dataset_open_idx(at("trunc"), at("l50"), &ds), HESSE_EINPUT, at("trunc"),
               "truncated file", expect, "got 39116");
    /* A raw file with bytes after the declared images. */
    write_idx_images(at("long"), 0x00000803, n, h, w, 0);
    REQUIRE(truncate(at("long"), 16 + n * h * w + 3) == 0);
    CHECK_FAIL(hesse_dataset_open_idx(at("long"), at("l50"), &ds), HESSE_EINPUT, at("long"),
               "3 trailing bytes");
    /* A header cut short. */
    write_file(at("short"), "\0\0\x08\x03\0\0", 6, 0);
    CHECK_FAIL(hesse_dataset_open_idx(at("short"), at("l50"), &ds), HESSE_EINPUT, at("short"),
               "expected 16 bytes, got 6");

    /* Wrong magic: 4 dimensions, and a labels file given as images. */
    write_idx_images(at("magic4"), 0x00000804, n, h, w, 1);
    CHECK_FAIL(hesse_dataset_open_idx(at("magic4"), at("l50"), &ds), HESSE_EINPUT, at("magic4"),
               "wrong magic 0x00000804", "expected 0x00000803");
    write_idx_images(at("ok"), 0x00000803, n, h, w, 0);
    CHECK_FAIL(hesse_dataset_open_idx(at("l50"), at("ok"), &ds), HESSE_EINPUT, at("l50"),
               "wrong magic 0x00000801");
    CHECK_FAIL(hesse_dataset_open_idx(at("ok"), at("ok"), &ds), HESSE_EINPUT,
               "expected 0x00000801 for IDX labels");

    /* Label count differs from image count. */
    write_idx_labels(at("l49.gz"), n - 1, NULL, 1);
    CHECK_FAIL(hesse_dataset_open_idx(at("ok"), at("l49.gz"), &ds), HESSE_EINPUT, at("l49.gz"),
               "49 labels", "50 images");
    /* Missing file. */
    CHECK_FAIL(hesse_dataset_open_idx(at("absent"), at("l50"), &ds), HESSE_EINPUT, at("absent"));
    CHECK(ds == NULL);
}

/* ---- CIFAR -------------------------------------------------------------------------------- */

#define REC10  3073
#define REC100 3074

/* `count` CIFAR records for samples first..first+count: label(s), then pix(i, k). */
static void write_cifar(const char *path, int version, int first, int count, int extra_bytes) {
    size_t rec = version == 10 ? REC10 : REC100, len = rec * count + extra_bytes;
    unsigned char *b = calloc(len ? len : 1, 1);
    REQUIRE(b != NULL);
    for (int r = 0; r < count; r++) {
        int64_t i = first + r;
        unsigned char *p = b + rec * r;
        if (version == 10) {
            p[0] = lab(i);
        } else {
            p[0] = (unsigned char)(i % 20); /* coarse */
            p[1] = (unsigned char)((i * 13 + 1) % 100);
        }
        for (int k = 0; k < 3072; k++) p[rec - 3072 + k] = pix(i, k);
    }
    write_file(path, b, len, 0);
    free(b);
}

static int cifar_label(int version, int64_t i) {
    return version == 10 ? lab(i) : (int)((i * 13 + 1) % 100);
}

static void check_cifar(const hesse_dataset *ds, int version, int n) {
    CHECK(hesse_dataset_size(ds) == n);
    int c = 0, h = 0, w = 0;
    hesse_dataset_shape(ds, &c, &h, &w);
    CHECK(c == 3 && h == 32 && w == 32);
    CHECK(hesse_dataset_num_classes(ds) == version);
    hesse_preprocess raw = hesse_preprocess_defaults();
    raw.scale = 1;
    hesse_samples s;
    REQUIRE(hesse_dataset_select(ds, NULL, &raw, &s) == HESSE_OK);
    /* Record bytes are R, G, B planes, row-major: the same CHW order the samples use. */
    int ok = s.n == n;
    for (int i = 0; ok && i < n; i++) {
        ok &= s.y[i] == cifar_label(version, i);
        for (int k = 0; k < 3072; k++) ok &= s.x[(size_t)i * 3072 + k] == pix(i, k);
    }
    CHECK(ok);
    hesse_samples_free(&s);
}

static void test_cifar(void) {
    REQUIRE(mkdir(at("c10"), 0700) == 0);
    char name[64];
    for (int b = 1; b <= 5; b++) {
        snprintf(name, sizeof name, "c10/data_batch_%d.bin", b);
        write_cifar(at(name), 10, 3 * (b - 1), 3, 0);
    }
    write_cifar(at("c10/test_batch.bin"), 10, 0, 4, 0);
    hesse_dataset *ds = NULL;
    REQUIRE(hesse_dataset_open(at("c10"), HESSE_SPLIT_TRAIN, &ds) == HESSE_OK);
    check_cifar(ds, 10, 15);
    CHECK(strcmp(hesse_dataset_name(ds), "c10/train") == 0);

    /* Per-channel normalisation: each plane uses its own mean and std. */
    hesse_preprocess pre;
    REQUIRE(hesse_preprocess_parse("0.4914,0.4822,0.4465", "0.2470, 0.2435,0.2616", "--normalize",
                                   &pre) == HESSE_OK);
    CHECK(pre.channels == 3 && pre.scale == 0 && pre.std[1] == 0.2435);
    hesse_samples s;
    REQUIRE(hesse_dataset_select(ds, NULL, &pre, &s) == HESSE_OK);
    int ok = 1;
    for (int ch = 0; ch < 3; ch++)
        for (int p = 0; p < 1024; p += 97) {
            int k = ch * 1024 + p;
            ok &= s.x[4 * 3072 + k] == (pix(4, k) / 255.0 - pre.mean[ch]) / pre.std[ch];
        }
    CHECK(ok);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    char spec[600];
    snprintf(spec, sizeof spec, "cifar10:%s", at("c10"));
    REQUIRE(hesse_dataset_open(spec, HESSE_SPLIT_TEST, &ds) == HESSE_OK);
    check_cifar(ds, 10, 4);
    hesse_dataset_free(ds);

    /* Errors: a size off the record grid, a label out of range, a missing batch. */
    write_cifar(at("c10/data_batch_3.bin"), 10, 6, 3, 5);
    CHECK_FAIL(hesse_dataset_open(at("c10"), HESSE_SPLIT_TRAIN, &ds), HESSE_EINPUT,
               at("c10/data_batch_3.bin"), "9224", "3073");
    write_cifar(at("c10/data_batch_3.bin"), 10, 6, 3, 0);
    FILE *f = fopen(at("c10/data_batch_3.bin"), "r+b");
    REQUIRE(f != NULL);
    REQUIRE(fseek(f, REC10 * 2, SEEK_SET) == 0);
    fputc(10, f);
    fclose(f);
    CHECK_FAIL(hesse_dataset_open(at("c10"), HESSE_SPLIT_TRAIN, &ds), HESSE_EINPUT,
               at("c10/data_batch_3.bin"), "record 2 has label 10");
    unlink(at("c10/data_batch_3.bin"));
    CHECK_FAIL(hesse_dataset_open(at("c10"), HESSE_SPLIT_TRAIN, &ds), HESSE_EINPUT,
               at("c10/data_batch_3.bin"));
    CHECK(ds == NULL);

    /* CIFAR-100: fine labels, 100 classes; found by its files or by the prefix. */
    REQUIRE(mkdir(at("c100"), 0700) == 0);
    write_cifar(at("c100/train.bin"), 100, 0, 9, 0);
    write_cifar(at("c100/test.bin"), 100, 0, 2, 0);
    REQUIRE(hesse_dataset_open(at("c100"), HESSE_SPLIT_TRAIN, &ds) == HESSE_OK);
    check_cifar(ds, 100, 9);
    hesse_dataset_free(ds);
    snprintf(spec, sizeof spec, "cifar100:%s", at("c100"));
    REQUIRE(hesse_dataset_open(spec, HESSE_SPLIT_TEST, &ds) == HESSE_OK);
    check_cifar(ds, 100, 2);
    hesse_dataset_free(ds);
    write_cifar(at("c100/test.bin"), 10, 0, 2, 0); /* CIFAR-10 records in a CIFAR-100 file */
    CHECK_FAIL(hesse_dataset_open(spec, HESSE_SPLIT_TEST, &ds), HESSE_EINPUT, at("c100/test.bin"),
               "6146", "3074");
    /* The prefix overrides detection: CIFAR-100 files read as CIFAR-10 are refused. */
    snprintf(spec, sizeof spec, "cifar10:%s", at("c100"));
    CHECK_FAIL(hesse_dataset_open(spec, HESSE_SPLIT_TEST, &ds), HESSE_EINPUT, "test_batch.bin");
}

/* ---- Arrays, selection, preprocessing ------------------------------------------------------ */

static void test_from_arrays(void) {
    int32_t labels[4] = {0, 1, 2, 3};
    double values[4 * 2];
    for (int i = 0; i < 8; i++) values[i] = i * 0.25 - 1;
    hesse_dataset *ds = NULL;
    CHECK_FAIL(hesse_dataset_from_arrays("toy", 4, 1, 1, 2, 3, NULL, values, labels, &ds),
               HESSE_EINPUT, "toy", "label 3", "[0, 3)");
    CHECK(ds == NULL);
    labels[3] = -1;
    CHECK_FAIL(hesse_dataset_from_arrays("toy", 4, 1, 1, 2, 4, NULL, values, labels, &ds),
               HESSE_EINPUT, "toy", "label -1");
    labels[3] = 3;
    uint8_t px[8] = {0};
    CHECK_FAIL(hesse_dataset_from_arrays("toy", 4, 1, 1, 2, 4, px, values, labels, &ds),
               HESSE_EINVAL, "toy");
    CHECK_FAIL(hesse_dataset_from_arrays("toy", 4, 0, 1, 2, 4, NULL, values, labels, &ds),
               HESSE_EINPUT, "toy", "shape");

    REQUIRE(hesse_dataset_from_arrays("toy", 4, 1, 1, 2, 4, NULL, values, labels, &ds) == HESSE_OK);
    values[0] = 99; /* the dataset holds a copy */
    CHECK(hesse_dataset_is_bytes(ds) == 0 && hesse_dataset_pixels(ds) == NULL);
    CHECK(hesse_dataset_values(ds)[0] == -1);
    hesse_samples s;
    REQUIRE(hesse_dataset_select(ds, NULL, NULL, &s) == HESSE_OK); /* scale 1 for doubles */
    CHECK(s.n == 4 && s.c == 1 && s.h == 1 && s.w == 2 && hesse_samples_dim(&s) == 2);
    CHECK(s.x[0] == -1 && s.x[7] == 0.75 && s.y[3] == 3);
    hesse_samples_free(&s);
    CHECK(s.x == NULL && s.n == 0);
    hesse_samples_free(&s); /* freeing twice is harmless */

    hesse_preprocess pre = hesse_preprocess_defaults();
    pre.scale = 2;
    pre.channels = 1;
    pre.mean[0] = 1;
    pre.std[0] = 4;
    REQUIRE(hesse_dataset_select(ds, NULL, &pre, &s) == HESSE_OK);
    int ok = 1;
    for (int k = 1; k < 8; k++) ok &= s.x[k] == ((k * 0.25 - 1) * 2 - 1) / 4;
    CHECK(ok);
    hesse_samples_free(&s);
    pre.channels = 3;
    CHECK_FAIL(hesse_dataset_select(ds, NULL, &pre, &s), HESSE_EINVAL, "toy", "3 channel");
    CHECK(s.x == NULL && s.n == 0);
    pre.channels = 1;
    pre.std[0] = 0;
    CHECK_FAIL(hesse_dataset_select(ds, NULL, &pre, &s), HESSE_EINVAL, "std");
    hesse_dataset_free(ds);
    hesse_dataset_free(NULL);

    /* Flat byte data with more channels than a normalisation can name ([N, D] files):
     * scaled by 1/255 per value, every channel alike. */
    uint8_t flat[2 * 40];
    int32_t fl[2] = {0, 1};
    for (int k = 0; k < 80; k++) flat[k] = (uint8_t)(3 * k);
    REQUIRE(hesse_dataset_from_arrays("flat", 2, 40, 1, 1, 2, flat, NULL, fl, &ds) == HESSE_OK);
    REQUIRE(hesse_dataset_select(ds, NULL, NULL, &s) == HESSE_OK);
    ok = s.c == 40;
    for (int k = 0; k < 80; k++) ok &= s.x[k] == (3.0 * k) / 255.0;
    CHECK(ok);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
}

/* 50 samples; labels i % 3 for i < 30, then class 0: class counts 30, 10, 10. Pixels i. */
static hesse_dataset *selection_data(void) {
    int32_t labels[50];
    uint8_t px[50 * 2];
    for (int i = 0; i < 50; i++) {
        labels[i] = i < 30 ? i % 3 : 0;
        px[2 * i] = (uint8_t)i;
        px[2 * i + 1] = (uint8_t)(200 - i);
    }
    hesse_dataset *ds = NULL;
    REQUIRE(hesse_dataset_from_arrays(NULL, 50, 1, 2, 1, 3, px, NULL, labels, &ds) == HESSE_OK);
    return ds;
}

static int ascending(const hesse_samples *s) {
    for (int64_t i = 1; i < s->n; i++)
        if (s->source[i] <= s->source[i - 1]) return 0;
    return 1;
}

static void test_selection(void) {
    hesse_dataset *ds = selection_data();
    CHECK(strcmp(hesse_dataset_name(ds), "arrays") == 0);
    hesse_selection sel = hesse_selection_defaults();
    hesse_preprocess raw = hesse_preprocess_defaults();
    raw.scale = 1;
    hesse_samples s, t;

    sel.n = 5;
    REQUIRE(hesse_dataset_select(ds, &sel, &raw, &s) == HESSE_OK);
    CHECK(s.n == 5 && s.source[4] == 4 && s.x[9] == 196 && s.y[4] == 1);
    hesse_samples_free(&s);
    sel.n = 51;
    CHECK_FAIL(hesse_dataset_select(ds, &sel, &raw, &s), HESSE_EINVAL, "51", "50");

    /* Balanced 7: quotas 3, 2, 2 from the front of the file: samples 0..6. */
    sel.mode = HESSE_SELECT_BALANCED;
    sel.n = 7;
    REQUIRE(hesse_dataset_select(ds, &sel, &raw, &s) == HESSE_OK);
    int ok = s.n == 7;
    for (int i = 0; ok && i < 7; i++) ok &= s.source[i] == i && s.x[2 * i] == i;
    CHECK(ok);
    hesse_samples_free(&s);
    /* Balanced 31 needs 11, 10, 10: class 0 continues past sample 29. */
    sel.n = 31;
    REQUIRE(hesse_dataset_select(ds, &sel, &raw, &s) == HESSE_OK);
    CHECK(s.n == 31 && s.source[30] == 30 && ascending(&s));
    hesse_samples_free(&s);
    sel.n = 33;
    CHECK_FAIL(hesse_dataset_select(ds, &sel, &raw, &s), HESSE_EINVAL, "class 1",
               "needs 11 samples", "found 10");
    /* Counts per class and nesting: balanced n is contained in balanced 2n. */
    int nested = 1, counts_ok = 1;
    for (int n = 1; n <= 15; n++) {
        sel.n = n;
        REQUIRE(hesse_dataset_select(ds, &sel, &raw, &s) == HESSE_OK);
        sel.n = 2 * n;
        REQUIRE(hesse_dataset_select(ds, &sel, &raw, &t) == HESSE_OK);
        int count[3] = {0, 0, 0};
        for (int i = 0; i < n; i++) count[s.y[i]]++;
        for (int k = 0; k < 3; k++) counts_ok &= count[k] == n / 3 + (k < n % 3);
        counts_ok &= ascending(&s) && ascending(&t);
        for (int i = 0, j = 0; i < n; i++) {
            while (j < 2 * n && t.source[j] < s.source[i]) j++;
            nested &= j < 2 * n && t.source[j] == s.source[i];
        }
        hesse_samples_free(&s);
        hesse_samples_free(&t);
    }
    CHECK(counts_ok);
    CHECK(nested);

    /* Random: the same seed gives the same distinct, ascending indices; another seed differs. */
    sel.mode = HESSE_SELECT_RANDOM;
    sel.n = 20;
    sel.seed = 7;
    REQUIRE(hesse_dataset_select(ds, &sel, &raw, &s) == HESSE_OK);
    REQUIRE(hesse_dataset_select(ds, &sel, &raw, &t) == HESSE_OK);
    CHECK(s.n == 20 && ascending(&s) && s.source[19] < 50);
    CHECK(memcmp(s.source, t.source, 20 * sizeof *s.source) == 0);
    ok = 1;
    for (int i = 0; i < 20; i++) ok &= s.x[2 * i] == (double)s.source[i];
    CHECK(ok);
    hesse_samples_free(&t);
    sel.seed = 8;
    REQUIRE(hesse_dataset_select(ds, &sel, &raw, &t) == HESSE_OK);
    CHECK(memcmp(s.source, t.source, 20 * sizeof *s.source) != 0);
    hesse_samples_free(&s);
    hesse_samples_free(&t);
    /* Each index is picked with probability 10/50 per draw: 2000 draws give 400 picks on
     * average, standard deviation sqrt(2000 * 0.2 * 0.8) = 17.9; 6 deviations (+-107) cannot
     * fail by chance for these fixed seeds but catch any skew towards some indices. */
    int picks[50] = {0};
    sel.n = 10;
    for (int r = 0; r < 2000; r++) {
        sel.seed = (uint64_t)r;
        REQUIRE(hesse_dataset_select(ds, &sel, &raw, &s) == HESSE_OK);
        for (int i = 0; i < 10; i++) picks[s.source[i]]++;
        hesse_samples_free(&s);
    }
    ok = 1;
    for (int i = 0; i < 50; i++) ok &= picks[i] > 400 - 107 && picks[i] < 400 + 107;
    CHECK(ok);

    /* n <= 0 means all, whatever the mode. */
    sel.n = 0;
    REQUIRE(hesse_dataset_select(ds, &sel, &raw, &s) == HESSE_OK);
    CHECK(s.n == 50 && s.source[49] == 49);

    /* Slices and gathers. */
    hesse_samples v = hesse_samples_slice(&s, 45, 10); /* clamped to 5 */
    CHECK(v.n == 5 && v.owns == 0 && v.x[0] == 45 && v.y == s.y + 45 && v.source[0] == 45);
    hesse_samples_free(&v); /* a view frees nothing */
    CHECK(s.x[90] == 45);
    REQUIRE(hesse_samples_alloc(4, 1, 2, 1, 3, &t) == HESSE_OK);
    int64_t idx[3] = {40, 2, 17};
    hesse_samples_gather(&s, idx, 3, &t);
    CHECK(t.n == 3 && t.x[0] == 40 && t.x[1] == 160 && t.x[2] == 2 && t.y[1] == 2);
    CHECK(t.source[2] == 17 && t.num_classes == 3);
    hesse_samples_free(&t);
    hesse_samples_free(&s);

    /* Automatic scale for bytes is raw / 255, then (x - mean) / std. */
    hesse_preprocess pre;
    REQUIRE(hesse_preprocess_parse("0.2860", "0.3530", "--normalize", &pre) == HESSE_OK);
    CHECK(pre.channels == 1 && pre.mean[0] == 0.2860 && pre.std[0] == 0.3530 && pre.scale == 0);
    REQUIRE(hesse_dataset_select(ds, NULL, &pre, &s) == HESSE_OK);
    ok = 1;
    for (int i = 0; i < 50; i++)
        ok &= s.x[2 * i] == (i / 255.0 - 0.2860) / 0.3530 &&
              s.x[2 * i + 1] == ((200 - i) / 255.0 - 0.2860) / 0.3530;
    CHECK(ok);
    hesse_samples_free(&s);
    REQUIRE(hesse_dataset_select(ds, NULL, NULL, &s) == HESSE_OK);
    CHECK(s.x[3] == 199 / 255.0);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);

    CHECK_FAIL(hesse_preprocess_parse("0.1,0.2", "0.3", "--normalize", &pre), HESSE_EINVAL,
               "--normalize", "2 mean", "1 std");
    CHECK_FAIL(hesse_preprocess_parse("0.1,x", "0.3,0.3", "--normalize", &pre), HESSE_EINVAL,
               "--normalize", "0.1,x");
    CHECK_FAIL(hesse_preprocess_parse("0.1", "0", "--normalize", &pre), HESSE_EINVAL, "--normalize",
               "not positive");
    CHECK_FAIL(hesse_preprocess_parse("0.1,", "0.3,0.3", "--norm", &pre), HESSE_EINVAL, "--norm");

    char buf[64];
    hesse_selection d = {HESSE_SELECT_FIRST, 1000, 0};
    hesse_selection_describe(&d, buf, sizeof buf);
    CHECK(strcmp(buf, "first 1000") == 0);
    d.mode = HESSE_SELECT_BALANCED;
    hesse_selection_describe(&d, buf, sizeof buf);
    CHECK(strcmp(buf, "balanced 1000") == 0);
    d.mode = HESSE_SELECT_RANDOM;
    d.seed = 7;
    hesse_selection_describe(&d, buf, sizeof buf);
    CHECK(strcmp(buf, "random 1000 (seed 7)") == 0);
    d.n = 0;
    hesse_selection_describe(&d, buf, sizeof buf);
    CHECK(strcmp(buf, "all") == 0);
}

/* ---- The real Fashion-MNIST ---------------------------------------------------------------- */

static void test_fashion_mnist(void) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    struct stat st;
    if (getenv("HESSE_FASHION_MNIST_DIR") || stat(dir, &st) != 0) {
        fprintf(stderr, "test_data: %s not installed (or overridden), real-data checks skipped\n",
                dir);
        return;
    }
    hesse_dataset *tr = NULL, *te = NULL;
    double t0 = hesse_now();
    REQUIRE(hesse_dataset_open("fashion-mnist", HESSE_SPLIT_TRAIN, &tr) == HESSE_OK);
    double t1 = hesse_now();
    fprintf(stderr, "test_data: fashion-mnist train loaded in %.3f s\n", t1 - t0);
    REQUIRE(hesse_dataset_open("fashion-mnist", HESSE_SPLIT_TEST, &te) == HESSE_OK);
    CHECK(strcmp(hesse_dataset_name(tr), "fashion-mnist/train") == 0);
    CHECK(hesse_dataset_size(tr) == 60000 && hesse_dataset_size(te) == 10000);
    int c, h, w;
    hesse_dataset_shape(tr, &c, &h, &w);
    CHECK(c == 1 && h == 28 && w == 28 && hesse_dataset_num_classes(tr) == 10);
    int count[10] = {0};
    for (int64_t i = 0; i < 60000; i++) count[hesse_dataset_label(tr, i)]++;
    int ok = 1;
    for (int k = 0; k < 10; k++) ok &= count[k] == 6000;
    CHECK(ok);

    /* Values read with `zcat FILE | od -A d -t u1 -j OFFSET -N 28` (labels at 8 + i, pixel
     * (i, r, c) at 16 + 784 i + 28 r + c). */
    const uint8_t *p = hesse_dataset_pixels(tr), *q = hesse_dataset_pixels(te);
    static const int first_labels[12] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9};
    ok = 1;
    for (int i = 0; i < 12; i++) ok &= hesse_dataset_label(tr, i) == first_labels[i];
    CHECK(ok);
    CHECK(hesse_dataset_label(tr, 59999) == 5 && hesse_dataset_label(tr, 59992) == 7);
    CHECK(hesse_dataset_label(te, 0) == 9 && hesse_dataset_label(te, 1) == 2 &&
          hesse_dataset_label(te, 11) == 5);
    CHECK(p[10 * 28 + 13] == 193 && p[10 * 28 + 26] == 202 && p[10 * 28 + 27] == 0);
    CHECK(p[59999 * 784 + 14 * 28 + 6] == 144 && p[59999 * 784 + 14 * 28 + 17] == 24);
    CHECK(q[14 * 28 + 12] == 98 && q[14 * 28 + 26] == 119);

    /* The whole decompressed images file, header included, hashes to what
     * `zcat train-images-idx3-ubyte.gz | sha256sum` prints. */
    static const unsigned char header[16] = {0, 0, 8, 3,  0, 0, 0xea, 0x60,
                                             0, 0, 0, 28, 0, 0, 0,    28};
    hesse_sha256 sha;
    char hex[65];
    hesse_sha256_init(&sha);
    hesse_sha256_update(&sha, header, sizeof header);
    hesse_sha256_update(&sha, p, (size_t)60000 * 784);
    hesse_sha256_hex(&sha, hex);
    CHECK(strcmp(hex, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888") == 0);

    /* A balanced 1000 takes 100 of each class. */
    hesse_selection sel = {HESSE_SELECT_BALANCED, 1000, 0};
    hesse_samples s;
    REQUIRE(hesse_dataset_select(tr, &sel, NULL, &s) == HESSE_OK);
    int bal[10] = {0};
    for (int i = 0; i < 1000; i++) bal[s.y[i]]++;
    ok = s.n == 1000 && s.c == 1 && s.h == 28 && s.w == 28;
    for (int k = 0; k < 10; k++) ok &= bal[k] == 100;
    CHECK(ok);
    CHECK(s.x[10 * 28 + 13] == 193 / 255.0);
    hesse_samples_free(&s);
    hesse_dataset_free(tr);
    hesse_dataset_free(te);
}

/* hesse_dataset_open tells a .safetensors file from a directory by its name: the same dataset
 * as hesse_dataset_read_safetensors gives, and only as the training split. */
static void test_open_safetensors(void) {
    const char *dir = getenv("HESSE_TEST_DATA");
    REQUIRE(dir != NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/fixture_mlp_data.safetensors", dir);
    hesse_dataset *a = NULL, *b = NULL;
    REQUIRE(hesse_dataset_open(path, HESSE_SPLIT_TRAIN, &a) == HESSE_OK);
    REQUIRE(hesse_dataset_read_safetensors(path, &b) == HESSE_OK);
    CHECK(hesse_dataset_size(a) == hesse_dataset_size(b) && hesse_dataset_size(a) > 0);
    CHECK(hesse_dataset_num_classes(a) == hesse_dataset_num_classes(b));
    CHECK(strcmp(hesse_dataset_name(a), hesse_dataset_name(b)) == 0);
    hesse_dataset_free(a);
    hesse_dataset_free(b);
    hesse_dataset *t = NULL;
    CHECK(hesse_dataset_open(path, HESSE_SPLIT_TEST, &t) == HESSE_EINVAL && t == NULL);
    CHECK(strstr(hesse_last_error(), "one split") != NULL);
}

/* ---- Text as bytes ------------------------------------------------------------------------ */

/* A file of L bytes: byte k is (7 k + k / 13) mod 256, so that every value occurs and no
 * window repeats another. */
static uint8_t text_byte(size_t k) {
    return (uint8_t)((7 * k + k / 13) % 256);
}

static void write_text(const char *path, size_t L) {
    uint8_t *b = malloc(L ? L : 1);
    REQUIRE(b != NULL);
    for (size_t k = 0; k < L; k++) b[k] = text_byte(k);
    write_file(path, b, L, 0);
    free(b);
}

/* Window i of a split starting at byte `begin`: ids [begin + iT, begin + iT + T), targets one
 * byte later; checked on every selected sample (source says which window it is). */
static void check_windows(const hesse_samples *s, size_t begin, int T) {
    int64_t bad = 0;
    for (int64_t i = 0; i < s->n; i++) {
        const size_t s0 = begin + (size_t)s->source[i] * (size_t)T;
        for (int t = 0; t < T; t++) {
            bad += s->x[i * T + t] != (double)text_byte(s0 + (size_t)t);
            bad += s->y[i * T + t] != (int32_t)text_byte(s0 + (size_t)t + 1);
        }
    }
    CHECK_MSG(bad == 0, "%lld ids or targets differ from the file's bytes", (long long)bad);
}

static void test_text(void) {
    const size_t L = 1003; /* test split: the last 100 bytes, from 903 */
    const int T = 7;
    write_text(at("t.txt"), L);
    hesse_dataset *tr = NULL, *te = NULL;
    REQUIRE(hesse_dataset_text(at("t.txt"), T, HESSE_SPLIT_TRAIN, &tr) == HESSE_OK);
    REQUIRE(hesse_dataset_text(at("t.txt"), T, HESSE_SPLIT_TEST, &te) == HESSE_OK);
    int c, h, w;
    hesse_dataset_shape(tr, &c, &h, &w);
    CHECK(c == 1 && h == T && w == 1 && hesse_dataset_num_classes(tr) == 256);
    CHECK(hesse_dataset_targets(tr) == T && hesse_dataset_is_tokens(tr) &&
          hesse_dataset_is_bytes(tr));
    CHECK(hesse_dataset_size(tr) == (903 - 1) / T && hesse_dataset_size(te) == (100 - 1) / T);
    CHECK(strcmp(hesse_dataset_name(tr), "text:t.txt/train") == 0 &&
          strcmp(hesse_dataset_name(te), "text:t.txt/test") == 0);
    /* the last target of the training split lies before the cut at 903 */
    CHECK(hesse_dataset_label(tr, hesse_dataset_size(tr) * T - 1) ==
          text_byte((size_t)hesse_dataset_size(tr) * T));
    CHECK(hesse_dataset_label(tr, hesse_dataset_size(tr) * T) == -1);

    hesse_samples s;
    REQUIRE(hesse_dataset_select(tr, NULL, NULL, &s) == HESSE_OK);
    CHECK(s.targets == T && hesse_samples_targets(&s) == T &&
          hesse_samples_positions(&s) == s.n * T);
    check_windows(&s, 0, T); /* ids as 0..255, not scaled by 1/255 */
    hesse_samples_free(&s);
    REQUIRE(hesse_dataset_select(te, NULL, NULL, &s) == HESSE_OK);
    check_windows(&s, 903, T);
    hesse_samples_free(&s);

    /* random: distinct windows, ascending, their own targets; balanced is first */
    hesse_selection sel = {HESSE_SELECT_RANDOM, 20, 5};
    REQUIRE(hesse_dataset_select(tr, &sel, NULL, &s) == HESSE_OK);
    CHECK(s.n == 20 && ascending(&s) && s.source[19] > 19);
    check_windows(&s, 0, T);
    /* a gather and a slice carry every sample's T labels */
    hesse_samples b;
    const int64_t idx[3] = {4, 0, 19};
    REQUIRE(hesse_samples_alloc_like(&s, 3, &b) == HESSE_OK);
    hesse_samples_gather(&s, idx, 3, &b);
    CHECK(b.targets == T);
    check_windows(&b, 0, T);
    hesse_samples v = hesse_samples_slice(&s, 17, 3);
    check_windows(&v, 0, T);
    hesse_samples_free(&b);
    /* label noise replaces round(f n T) targets */
    hesse_samples copy;
    REQUIRE(hesse_samples_alloc_like(&s, s.n, &copy) == HESSE_OK);
    memcpy(copy.y, s.y, (size_t)(s.n * T) * sizeof *s.y);
    int64_t changed = -1, differ = 0;
    REQUIRE(hesse_samples_label_noise(&copy, 0.25, 3, &changed) == HESSE_OK);
    for (int64_t i = 0; i < s.n * T; i++) differ += copy.y[i] != s.y[i];
    CHECK(changed == 35 && differ == 35); /* round(0.25 * 20 * 7) */
    hesse_samples_free(&copy);
    char h1[65], h2[65];
    hesse_samples_hash(&s, h1);
    s.y[s.n * T - 1] ^= 1; /* the last sample's last target counts in the hash */
    hesse_samples_hash(&s, h2);
    CHECK(strcmp(h1, h2) != 0);
    hesse_samples_free(&s);
    sel = (hesse_selection){HESSE_SELECT_BALANCED, 10, 0};
    REQUIRE(hesse_dataset_select(tr, &sel, NULL, &s) == HESSE_OK);
    CHECK(s.n == 10 && s.source[0] == 0 && s.source[9] == 9);
    hesse_samples_free(&s);
    /* token ids take no normalisation */
    hesse_preprocess pre;
    REQUIRE(hesse_preprocess_parse("0.5", "2", "--mean/--std", &pre) == HESSE_OK);
    CHECK_FAIL(hesse_dataset_select(tr, NULL, &pre, &s), HESSE_EINVAL, "token ids");
    hesse_dataset_free(tr);
    hesse_dataset_free(te);

    /* the whole file through hesse_dataset_open: context 64 */
    write_text(at("long.txt"), 1000);
    char spec[600];
    snprintf(spec, sizeof spec, "text:%s", at("long.txt"));
    REQUIRE(hesse_dataset_open(spec, HESSE_SPLIT_TRAIN, &tr) == HESSE_OK);
    CHECK(hesse_dataset_targets(tr) == 64 && hesse_dataset_size(tr) == (900 - 1) / 64);
    hesse_dataset_free(tr);

    /* bad inputs */
    CHECK_FAIL(hesse_dataset_text(at("missing.txt"), T, HESSE_SPLIT_TRAIN, &tr), HESSE_EINPUT,
               "missing.txt", "cannot open");
    mkdir(at("empty"), 0700); /* a directory is a corpus: an empty one has no window */
    CHECK_FAIL(hesse_dataset_text(at("empty"), T, HESSE_SPLIT_TRAIN, &tr), HESSE_EINPUT,
               "0 bytes, shorter than one window of context 7");
    write_text(at("short.txt"), 7);
    CHECK_FAIL(hesse_dataset_text(at("short.txt"), 7, HESSE_SPLIT_TRAIN, &tr), HESSE_EINPUT,
               "7 bytes, shorter than one window of context 7", "8 bytes");
    write_text(at("eleven.txt"), 11); /* one window of 10 + 1, but the first 10 bytes train */
    CHECK_FAIL(hesse_dataset_text(at("eleven.txt"), 10, HESSE_SPLIT_TRAIN, &tr), HESSE_EINPUT,
               "training split", "the first 10 of 11 bytes");
    write_text(at("ten.txt"), 90); /* training split 81 bytes, test split 9 */
    REQUIRE(hesse_dataset_text(at("ten.txt"), 8, HESSE_SPLIT_TEST, &tr) == HESSE_OK);
    CHECK(hesse_dataset_size(tr) == 1);
    hesse_dataset_free(tr);
    CHECK_FAIL(hesse_dataset_text(at("ten.txt"), 9, HESSE_SPLIT_TEST, &tr), HESSE_EINPUT,
               "test split", "the last 9 of 90 bytes");
    CHECK_FAIL(hesse_dataset_text(at("t.txt"), 0, HESSE_SPLIT_TRAIN, &tr), HESSE_EINVAL,
               "context 0");
    CHECK_FAIL(hesse_dataset_text(at("t.txt"), HESSE_TEXT_CONTEXT_MAX + 1, HESSE_SPLIT_TRAIN, &tr),
               HESSE_EINVAL, "out of range");
    CHECK(tr == NULL);

    /* text:fortunes is looked up, never taken as a relative path */
    char path[512];
    mkdir(at("games"), 0700);
    setenv("HESSE_FORTUNES_DIR", at("games"), 1);
    CHECK_FAIL(hesse_text_find("text:fortunes", path, sizeof path), HESSE_EINPUT,
               "no file fortunes in", at("games"));
    write_text(at("games/fortunes"), 100);
    REQUIRE(hesse_text_find("text:fortunes", path, sizeof path) == HESSE_OK);
    CHECK(strcmp(path, at("games")) == 0); /* the corpus is the directory */
    unsetenv("HESSE_FORTUNES_DIR");
    REQUIRE(hesse_text_find("text:./fortunes", path, sizeof path) == HESSE_OK);
    CHECK(strcmp(path, "./fortunes") == 0);
}

static void put(const char *name, const char *text) {
    write_file(at(name), (const uint8_t *)text, strlen(text), 0);
}

/* A directory read as one text: the files by name, less hidden files, *.dat indexes,
 * subdirectories and links to a file already read; a link to a file not yet read counts. */
static void test_text_dir(void) {
    mkdir(at("corpus"), 0700);
    mkdir(at("corpus/sub"), 0700);
    put("corpus/b", "Bravo bravo bravo\n%\n");       /* 20 bytes */
    put("corpus/a", "Alpha: one two three\n%\n");    /* 23 */
    put("corpus/a.dat", "INDEX-BYTES");              /* skipped: a strfile index */
    put("corpus/.hidden", "HIDDEN");                 /* skipped: hidden */
    put("corpus/sub/x", "SUBDIRECTORY");             /* skipped: not a regular file */
    put("outside", "Charlie, outside the dir\n%\n"); /* 27, read through the link corpus/c */
    REQUIRE(symlink("a", at("corpus/a.u8")) == 0);   /* skipped: a is read already */
    REQUIRE(symlink(at("outside"), at("corpus/c")) == 0);
    const char *want =
        "Alpha: one two three\n%\nBravo bravo bravo\n%\nCharlie, outside the dir\n%\n";
    const size_t L = strlen(want); /* 70: the training split is the first 63 bytes */
    REQUIRE(L == 70);
    const int T = 5;
    hesse_dataset *tr = NULL, *te = NULL;
    REQUIRE(hesse_dataset_text(at("corpus"), T, HESSE_SPLIT_TRAIN, &tr) == HESSE_OK);
    REQUIRE(hesse_dataset_text(at("corpus"), T, HESSE_SPLIT_TEST, &te) == HESSE_OK);
    CHECK(hesse_dataset_size(tr) == (63 - 1) / T && hesse_dataset_size(te) == (7 - 1) / T);
    hesse_samples s;
    REQUIRE(hesse_dataset_select(tr, NULL, NULL, &s) == HESSE_OK);
    int64_t bad = 0;
    for (int64_t i = 0; i < s.n; i++)
        for (int t = 0; t < T; t++) {
            const size_t k = (size_t)s.source[i] * (size_t)T + (size_t)t;
            bad += s.x[i * T + t] != (double)(unsigned char)want[k];
            bad += s.y[i * T + t] != (int32_t)(unsigned char)want[k + 1];
        }
    CHECK_MSG(bad == 0, "%lld ids or targets differ from the files in name order", (long long)bad);
    hesse_samples_free(&s);
    REQUIRE(hesse_dataset_select(te, NULL, NULL, &s) == HESSE_OK);
    CHECK(s.n == 1 && s.x[0] == (double)' ' && s.y[T - 1] == (int32_t)'%'); /* " dir\n%" */
    hesse_samples_free(&s);
    hesse_dataset_free(tr);
    hesse_dataset_free(te);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/hesse-test-data-XXXXXX");
    REQUIRE(mkdtemp(tmp) != NULL);
    test_idx_read();
    test_idx_dir();
    test_idx_errors();
    test_cifar();
    test_from_arrays();
    test_selection();
    test_fashion_mnist();
    test_open_safetensors();
    test_text();
    test_text_dir();
    rm_tree(tmp);
    return test_summary("test_data");
}

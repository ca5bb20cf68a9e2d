/* io/: safetensors reading (every dtype, from bytes this test encodes itself and from a
 * file PyTorch made), binary16/bfloat16 conversion against known bit patterns, rejection of
 * every malformed header with a message naming file and tensor, the writer's exact layout,
 * atomic writes that fail cleanly, and JSON numbers that read back as the same doubles. */
#include <hesse/io.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[] = "/tmp/hesse_test_io.XXXXXX";

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* Number of entries in dir whose name contains `part` (temporary files use ".tmp."). */
static int count_entries(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0700);
            remove_tree(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* ---- A test-local safetensors encoder, independent of hesse's writer ------------------ */

/* [8-byte little-endian declared length][header][data]. */
static unsigned char *encode_raw(uint64_t declared, const char *header, const void *data,
                                 size_t data_len, size_t *len) {
    size_t hl = strlen(header);
    *len = 8 + hl + data_len;
    unsigned char *b = malloc(*len + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(declared >> (8 * i));
    memcpy(b + 8, header, hl);
    if (data_len) memcpy(b + 8 + hl, data, data_len);
    return b;
}

static unsigned char *encode(const char *header, const void *data, size_t data_len, size_t *len) {
    return encode_raw(strlen(header), header, data, data_len, len);
}

static int same_double(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

/* ---- Conversions ------------------------------------------------------------------------ */

static void test_half(void) {
    static const struct {
        uint16_t bits;
        double value;
    } f16[] = {
        {0x3C00, 1.0},
        {0x7BFF, 65504.0},        /* largest finite */
        {0x0001, 0x1p-24},        /* smallest subnormal */
        {0x03FF, 1023 * 0x1p-24}, /* largest subnormal */
        {0x0400, 0x1p-14},        /* smallest normal */
        {0xC000, -2.0},
        {0x3555, 0.333251953125}, /* 1/3 rounded to 10 fraction bits */
        {0x8000, -0.0},
        {0x7C00, INFINITY},
        {0xFC00, -INFINITY},
    };
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++)
        CHECK_MSG(same_double(hesse_f16_to_double(f16[i].bits), f16[i].value),
                  "f16 0x%04x -> %.17g", f16[i].bits, hesse_f16_to_double(f16[i].bits));
    CHECK(isnan(hesse_f16_to_double(0x7E00)) && isnan(hesse_f16_to_double(0xFC01)));

    static const struct {
        uint16_t bits;
        double value;
    } bf16[] = {
        {0x3F80, 1.0},        {0xC020, -2.5},
        {0x7F7F, 0x1.FEp127}, /* largest finite: (2 - 2^-7) * 2^127 */
        {0x0001, 0x1p-133},   /* smallest subnormal: 2^-126 * 2^-7 */
        {0x0080, 0x1p-126},   /* smallest normal */
        {0x8000, -0.0},       {0x7F80, INFINITY},
        {0xFF80, -INFINITY},
    };
    for (size_t i = 0; i < sizeof bf16 / sizeof bf16[0]; i++)
        CHECK_MSG(same_double(hesse_bf16_to_double(bf16[i].bits), bf16[i].value),
                  "bf16 0x%04x -> %.17g", bf16[i].bits, hesse_bf16_to_double(bf16[i].bits));
    CHECK(isnan(hesse_bf16_to_double(0x7FC0)) && isnan(hesse_bf16_to_double(0xFF81)));

#ifdef __FLT16_MAX__
    /* All 65536 patterns against the compiler's own binary16 arithmetic, an implementation
     * that shares no code with hesse's. */
    __extension__ typedef _Float16 half;
    int bad = 0;
    for (uint32_t u = 0; u < 65536; u++) {
        uint16_t bits = (uint16_t)u;
        half h;
        memcpy(&h, &bits, 2);
        if (!same_double(hesse_f16_to_double(bits), (double)h)) bad++;
    }
    CHECK_MSG(bad == 0, "%d binary16 patterns differ from _Float16", bad);
#endif
}

/* One tensor of every dtype, bytes laid out by hand, read back as doubles. */
static void test_dtypes(void) {
    unsigned char data[256];
    size_t off = 0;
#define PUT(v)                                                                                     \
    do {                                                                                           \
        __typeof__(v) v_ = (v);                                                                    \
        memcpy(data + off, &v_, sizeof v_);                                                        \
        off += sizeof v_;                                                                          \
    } while (0)
    PUT(1.5);
    PUT(-0.1);             /* F64 [0, 16) */
    PUT(0.1f);             /* F32 [16, 20) */
    PUT((uint16_t)0x3C00); /* F16 [20, 24) */
    PUT((uint16_t)0x0001);
    PUT((uint16_t)0x3F80); /* BF16 [24, 26) */
    PUT((int64_t)-5);      /* I64 [26, 42) */
    PUT((int64_t)1 << 40);
    PUT((int32_t)INT32_MIN); /* I32 [42, 46) */
    PUT((int16_t)-300);      /* I16 [46, 48) */
    PUT((int8_t)-128);       /* I8 [48, 49) */
    PUT((uint8_t)255);       /* U8 [49, 50) */
    PUT((uint8_t)0);         /* BOOL [50, 52) */
    PUT((uint8_t)1);
    PUT((uint16_t)65535);       /* U16 [52, 54) */
    PUT((uint32_t)4000000000u); /* U32 [54, 58) */
    PUT((uint64_t)1 << 63);     /* U64 [58, 66) */
#undef PUT
    const char *header = "{\"f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                         "\"f32\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[16,20]},"
                         "\"f16\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[20,24]},"
                         "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[24,26]},"
                         "\"i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[26,42]},"
                         "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[42,46]},"
                         "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[46,48]},"
                         "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[48,49]},"
                         "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[49,50]},"
                         "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[50,52]},"
                         "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[52,54]},"
                         "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[54,58]},"
                         "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[58,66]},"
                         "\"none\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[66,66]},"
                         "\"__metadata__\":{\"who\":\"test\"}}";
    static const struct {
        const char *name;
        hesse_dtype dtype;
        int n;
        double v[2];
    } want[] = {
        {"f64", HESSE_DTYPE_F64, 2, {1.5, -0.1}},
        {"f32", HESSE_DTYPE_F32, 1, {(double)0.1f}},
        {"f16", HESSE_DTYPE_F16, 2, {1.0, 0x1p-24}},
        {"bf16", HESSE_DTYPE_BF16, 1, {1.0}},
        {"i64", HESSE_DTYPE_I64, 2, {-5, 0x1p40}},
        {"i32", HESSE_DTYPE_I32, 1, {INT32_MIN}},
        {"i16", HESSE_DTYPE_I16, 1, {-300}},
        {"i8", HESSE_DTYPE_I8, 1, {-128}},
        {"u8", HESSE_DTYPE_U8, 1, {255}},
        {"bool", HESSE_DTYPE_BOOL, 2, {0, 1}},
        {"u16", HESSE_DTYPE_U16, 1, {65535}},
        {"u32", HESSE_DTYPE_U32, 1, {4e9}},
        {"u64", HESSE_DTYPE_U64, 1, {0x1p63}},
    };
    size_t len;
    unsigned char *file = encode(header, data, off, &len);
    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open_memory(file, len, "dtypes.safetensors", &f) == HESSE_OK);
    free(file);
    CHECK(hesse_st_count(f) == 14);
    CHECK(strcmp(hesse_st_path(f), "dtypes.safetensors") == 0);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const hesse_st_tensor *t = hesse_st_find(f, want[i].name);
        CHECK_MSG(t && t->dtype == want[i].dtype && t->numel == want[i].n, "%s", want[i].name);
        CHECK(t == hesse_st_at(f, (int)i)); /* header order is kept */
        if (!t) continue;
        double got[2] = {NAN, NAN};
        CHECK(hesse_st_read_f64(f, t, got) == HESSE_OK);
        for (int j = 0; j < want[i].n; j++)
            CHECK_MSG(same_double(got[j], want[i].v[j]), "%s[%d] = %.17g, want %.17g", want[i].name,
                      j, got[j], want[i].v[j]);
    }
    const hesse_st_tensor *f32 = hesse_st_find(f, "f32"), *none = hesse_st_find(f, "none");
    CHECK(f32 && f32->ndim == 0 && f32->numel == 1); /* a scalar has one element */
    CHECK(none && none->numel == 0 && none->ndim == 2 && none->shape[1] == 4);
    CHECK(hesse_st_find(f, "missing") == NULL && hesse_st_find(f, "__metadata__") == NULL);
    CHECK(hesse_st_meta_count(f) == 1 && strcmp(hesse_st_meta_key(f, 0), "who") == 0);
    CHECK(hesse_st_meta(f, "who") && strcmp(hesse_st_meta(f, "who"), "test") == 0);
    CHECK(hesse_st_meta(f, "nobody") == NULL);
    const hesse_st_tensor *u8 = hesse_st_find(f, "u8");
    CHECK(u8 && *(const uint8_t *)hesse_st_data(f, u8) == 255);
    hesse_st_close(f);
    hesse_st_close(NULL);
    CHECK(strcmp(hesse_dtype_name(HESSE_DTYPE_BF16), "BF16") == 0);
    CHECK(hesse_dtype_size(HESSE_DTYPE_BF16) == 2 && hesse_dtype_size(HESSE_DTYPE_I64) == 8);

    /* The smallest valid file: an empty header, no tensors. */
    file = encode("{}", NULL, 0, &len);
    CHECK(hesse_st_open_memory(file, len, "empty.safetensors", &f) == HESSE_OK &&
          hesse_st_count(f) == 0 && hesse_st_meta_count(f) == 0);
    hesse_st_close(f);
    free(file);
}

/* ---- The file PyTorch made ------------------------------------------------------------- */

static const char *data_dir(void) {
    static char dir[512];
    const char *env = getenv("HESSE_TEST_DATA");
    if (env) return env;
    /* Run by hand: the data folder beside this source file. */
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    snprintf(slash ? slash + 1 : dir, sizeof dir - (size_t)(slash ? slash + 1 - dir : 0), "data");
    return dir;
}

static double json_value(const cJSON *v) {
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "inf") == 0) return INFINITY;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "-inf") == 0) return -INFINITY;
    return NAN;
}

static void test_pytorch_fixture(void) {
    char path[600], ref[600];
    snprintf(path, sizeof path, "%s/st_small.safetensors", data_dir());
    snprintf(ref, sizeof ref, "%s/st_small.json", data_dir());
    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(path, &f) == HESSE_OK);
    unsigned char *text;
    size_t len;
    REQUIRE(hesse_read_file(ref, &text, &len) == HESSE_OK);
    cJSON *doc = cJSON_Parse((const char *)text);
    free(text);
    REQUIRE(doc);
    const cJSON *tensors = cJSON_GetObjectItem(doc, "tensors"), *t;
    CHECK(hesse_st_count(f) == cJSON_GetArraySize(tensors));
    int checked = 0;
    cJSON_ArrayForEach(t, tensors) {
        const char *name = cJSON_GetObjectItem(t, "name")->valuestring;
        const hesse_st_tensor *st = hesse_st_find(f, name);
        CHECK_MSG(st != NULL, "fixture tensor '%s' not found", name);
        if (!st) continue;
        CHECK(strcmp(hesse_dtype_name(st->dtype), cJSON_GetObjectItem(t, "dtype")->valuestring) ==
              0);
        const cJSON *shape = cJSON_GetObjectItem(t, "shape"), *values;
        CHECK(st->ndim == cJSON_GetArraySize(shape));
        for (int d = 0; d < st->ndim; d++)
            CHECK(st->shape[d] == (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble);
        values = cJSON_GetObjectItem(t, "values");
        CHECK(st->numel == cJSON_GetArraySize(values));
        double *v = malloc(((size_t)st->numel + 1) * sizeof *v);
        CHECK(hesse_st_read_f64(f, st, v) == HESSE_OK);
        /* PyTorch widened every value to float64 itself; widening is exact, so the values
         * must agree bit for bit. */
        int i = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, values) {
            CHECK_MSG(same_double(v[i], json_value(x)), "%s[%d]: %.17g vs PyTorch %.17g", name, i,
                      v[i], json_value(x));
            i++;
            checked++;
        }
        free(v);
    }
    CHECK(checked > 40);
    const cJSON *meta = cJSON_GetObjectItem(doc, "metadata"), *kv;
    cJSON_ArrayForEach(kv, meta) {
        const char *got = hesse_st_meta(f, kv->string);
        CHECK(got && strcmp(got, kv->valuestring) == 0);
    }
    cJSON_Delete(doc);
    hesse_st_close(f);
}

/* ---- Malformed files ------------------------------------------------------------------- */

/* Opens bytes that must be refused: HESSE_EINPUT with a message naming the label and, when
 * given, the tensor (and `also`, a phrase the message must contain). */
static void expect_bad(const unsigned char *b, size_t len, const char *tensor, const char *also) {
    hesse_st_file *f = NULL;
    hesse_clear_error();
    int rc = hesse_st_open_memory(b, len, "bad.safetensors", &f);
    const char *msg = hesse_last_error();
    CHECK_MSG(rc == HESSE_EINPUT && f == NULL, "accepted or wrong status %d: %s", rc, msg);
    CHECK_MSG(strncmp(msg, "bad.safetensors: ", 17) == 0 && !strchr(msg, '\n'), "message: %s", msg);
    if (tensor) {
        char quoted[128];
        snprintf(quoted, sizeof quoted, "'%s'", tensor);
        CHECK_MSG(strstr(msg, quoted) != NULL, "message does not name %s: %s", quoted, msg);
    }
    if (also) CHECK_MSG(strstr(msg, also) != NULL, "message lacks '%s': %s", also, msg);
    if (getenv("HESSE_TEST_VERBOSE")) fprintf(stderr, "  refused: %s\n", msg);
    hesse_st_close(f);
}

static void expect_bad_header(const char *header, size_t data_len, const char *tensor,
                              const char *also) {
    unsigned char zeros[256] = {0};
    size_t len;
    unsigned char *b = encode(header, zeros, data_len, &len);
    expect_bad(b, len, tensor, also);
    free(b);
}

#define T(body) "{\"w\":{" body "}}"
static void test_malformed(void) {
    size_t len;
    unsigned char *b;

    expect_bad((const unsigned char *)"\x02\0\0", 3, NULL, "too short");
    b = encode_raw(1000, "{}", NULL, 0, &len); /* header longer than the file */
    expect_bad(b, len, NULL, "exceeds");
    free(b);
    b = encode_raw((uint64_t)1 << 40, "{}", NULL, 0, &len); /* absurd length */
    expect_bad(b, len, NULL, "limit");
    free(b);
    b = encode_raw(UINT64_MAX, "{}", NULL, 0, &len); /* 8 + N wraps around */
    expect_bad(b, len, NULL, NULL);
    free(b);

    expect_bad_header("{\"w\": {\"dtype\": ", 0, NULL, "not valid JSON");
    expect_bad_header("[1, 2]", 0, NULL, NULL);
    expect_bad_header("{\"a\":1} x", 0, NULL, "after its JSON");

    expect_bad_header("{\"w\":[1]}", 0, "w", "not a JSON object");
    expect_bad_header(T("\"shape\":[1],\"data_offsets\":[0,4]"), 4, "w", "dtype");
    expect_bad_header(T("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), 4, "w", "shape");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1]"), 4, "w", "data_offsets");
    expect_bad_header(T("\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]"), 4, "w",
                      "unknown dtype 'Q4'");
    expect_bad_header(T("\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]"), 4, "w", "dtype");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]"), 4, "w", "-1");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,4]"), 4, "w", "2.5");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]"), 4, "w",
                      "string");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]"), 4, "w", "shape");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]"),
                      4, "w", "9 dimensions");
    /* 2^32 * 2^32 * 16 elements overflow 64 bits; 2^50 * 2^12 F64 values overflow the byte
     * count. Both must be caught, not wrapped into a small number that happens to match. */
    expect_bad_header(T("\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,16],"
                        "\"data_offsets\":[0,0]"),
                      0, "w", "64 bits");
    expect_bad_header(T("\"dtype\":\"F64\",\"shape\":[1125899906842624,4096],"
                        "\"data_offsets\":[0,0]"),
                      0, "w", "too large");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]"), 4, "w", NULL);
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]"), 4, "w", NULL);
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4]"), 4, "w", NULL);
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]"), 8, "w",
                      "begin after end");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]"), 4, "w",
                      "beyond the data block");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]"), 8, "w",
                      "hold 1 value, shape [2] needs 2");
    expect_bad_header(T("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,5]"), 8, "w",
                      "not a whole number");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      12, "a", "overlap");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                      8, "a", "twice");
    expect_bad_header("{\"__metadata__\":{\"k\":1}}", 0, "k", "not a string");
    expect_bad_header("{\"__metadata__\":[\"k\"]}", 0, NULL, "__metadata__");
    expect_bad_header("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "k", "twice");
    expect_bad_header("{\"__metadata__\":{},\"__metadata__\":{}}", 0, NULL, "twice");

    /* The message DESIGN.md promises, word for word. */
    unsigned char zeros[96] = {0};
    const char *h =
        "{\"3.weight\":{\"dtype\":\"F64\",\"shape\":[6,1,5,5],\"data_offsets\":[0,96]}}";
    b = encode(h, zeros, 96, &len);
    hesse_st_file *f = NULL;
    CHECK(hesse_st_open_memory(b, len, "model.safetensors", &f) == HESSE_EINPUT);
    CHECK_MSG(strcmp(hesse_last_error(),
                     "model.safetensors: tensor '3.weight': data_offsets "
                     "[0, 96) hold 12 values, shape [6, 1, 5, 5] needs 150") == 0,
              "%s", hesse_last_error());
    free(b);

    /* Empty tensors may share an offset with anything; a zero-sized shape is not an error. */
    b = encode("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               zeros, 4, &len);
    CHECK(hesse_st_open_memory(b, len, "ok.safetensors", &f) == HESSE_OK);
    hesse_st_close(f);
    free(b);
    f = NULL;

    /* Every truncation of a valid file is refused, without reading outside the buffer
     * (ASan watches). */
    static unsigned char big[1200];
    h = "{\"3.weight\":{\"dtype\":\"F64\",\"shape\":[6,1,5,5],\"data_offsets\":[0,1200]}}";
    b = encode(h, big, sizeof big, &len);
    CHECK(hesse_st_open_memory(b, len, "whole.safetensors", &f) == HESSE_OK);
    hesse_st_close(f);
    for (size_t cut = 0; cut < len; cut++) {
        f = NULL;
        int rc = hesse_st_open_memory(b, cut, "cut.safetensors", &f);
        CHECK(rc == HESSE_EINPUT && f == NULL);
    }
    free(b);
}
#undef T

/* Random corruptions of the PyTorch-made file: each must open or be refused with
 * HESSE_EINPUT, never crash or read out of bounds (ASan watches). A cheap stand-in for a
 * fuzzer, deterministic through the seed. */
static void test_corruptions(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/st_small.safetensors", data_dir());
    unsigned char *orig, *b;
    size_t len;
    REQUIRE(hesse_read_file(path, &orig, &len) == HESSE_OK);
    b = malloc(len);
    hesse_rng r;
    hesse_rng_seed(&r, 1);
    int refused = 0, opened = 0, other = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(b, orig, len);
        int flips = 1 + (int)hesse_rng_below(&r, 3);
        for (int k = 0; k < flips; k++) {
            /* Mostly the header, where the structure is. */
            size_t at =
                hesse_rng_below(&r, 4) ? hesse_rng_below(&r, 8 + 640) : hesse_rng_below(&r, len);
            static const char pool[] = "{}[]\",:0123456789-.e ";
            b[at] = hesse_rng_below(&r, 2)
                        ? (unsigned char)pool[hesse_rng_below(&r, sizeof pool - 1)]
                        : (unsigned char)hesse_rng_u64(&r);
        }
        hesse_st_file *f = NULL;
        int rc = hesse_st_open_memory(b, len, "fuzz.safetensors", &f);
        if (rc == HESSE_OK) {
            opened++;
            double *v = NULL;
            for (int i = 0; i < hesse_st_count(f); i++) { /* every tensor must be readable */
                const hesse_st_tensor *t = hesse_st_at(f, i);
                v = realloc(v, ((size_t)t->numel + 1) * sizeof *v);
                if (hesse_st_read_f64(f, t, v) != HESSE_OK) other++;
            }
            free(v);
            hesse_st_close(f);
        } else if (rc == HESSE_EINPUT && f == NULL) {
            refused++;
        } else {
            other++;
        }
    }
    CHECK_MSG(other == 0 && refused > 1000 && opened > 0, "refused %d, opened %d, other %d",
              refused, opened, other);
    free(b);
    free(orig);
}

/* ---- Writer ---------------------------------------------------------------------------- */

static void test_writer(void) {
    char path[600];
    tmp_path(path, sizeof path, "w.safetensors");
    hesse_st_writer *w = NULL;
    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    float a[2] = {0.5f, -1.0f};
    int64_t shape_a[1] = {2};
    double m[2][3] = {{1, 2, 3}, {4, 5, 0.1}};
    int64_t shape_m[2] = {2, 3};
    uint16_t h[1] = {0x7BFF};
    int64_t lab[3] = {0, 9, -1};
    int64_t shape_l[1] = {3};
    CHECK(hesse_st_add(w, "a", HESSE_DTYPE_F32, 1, shape_a, a) == HESSE_OK);
    CHECK(hesse_st_add_meta(w, "k", "v\"q") == HESSE_OK);
    CHECK(hesse_st_add(w, "m", HESSE_DTYPE_F64, 2, shape_m, m) == HESSE_OK);
    CHECK(hesse_st_add(w, "h", HESSE_DTYPE_F16, 0, NULL, h) == HESSE_OK);
    CHECK(hesse_st_add(w, "labels", HESSE_DTYPE_I64, 1, shape_l, lab) == HESSE_OK);
    CHECK(hesse_st_add_meta(w, "z", "first") == HESSE_OK);
    CHECK(hesse_st_add_meta(w, "z", "second") == HESSE_OK); /* replaces */
    CHECK(hesse_st_add(w, "a", HESSE_DTYPE_F32, 1, shape_a, a) == HESSE_EINVAL);
    CHECK(hesse_st_add(w, "__metadata__", HESSE_DTYPE_F32, 1, shape_a, a) == HESSE_EINVAL);
    CHECK(hesse_st_add(w, "n", HESSE_DTYPE_F32, 1, shape_a, NULL) == HESSE_EINVAL);
    int64_t neg[1] = {-2};
    CHECK(hesse_st_add(w, "n", HESSE_DTYPE_F32, 1, neg, a) == HESSE_EINVAL);
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    hesse_st_writer_free(w);
    hesse_st_writer_free(NULL);

    /* The exact bytes: metadata first, tensors in insertion order, compact JSON padded with
     * spaces to a multiple of 8, data back to back. */
    const char *want = "{\"__metadata__\":{\"k\":\"v\\\"q\",\"z\":\"second\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"m\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[8,56]},"
                       "\"h\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[56,58]},"
                       "\"labels\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[58,82]}}";
    unsigned char *file;
    size_t len;
    REQUIRE(hesse_read_file(path, &file, &len) == HESSE_OK);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)file[i] << (8 * i);
    size_t wl = strlen(want);
    CHECK(n % 8 == 0 && n >= wl && n < wl + 8);
    CHECK(len == 8 + n + 82);
    CHECK(memcmp(file + 8, want, wl) == 0);
    int pad_ok = 1;
    for (size_t i = wl; i < n; i++) pad_ok &= file[8 + i] == ' ';
    CHECK(pad_ok);
    CHECK(memcmp(file + 8 + n, a, 8) == 0 && memcmp(file + 8 + n + 8, m, 48) == 0);
    free(file);

    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(path, &f) == HESSE_OK);
    const hesse_st_tensor *t = hesse_st_find(f, "m");
    double back[6];
    CHECK(t && hesse_st_read_f64(f, t, back) == HESSE_OK && memcmp(back, m, sizeof back) == 0);
    t = hesse_st_find(f, "h");
    CHECK(t && hesse_st_read_f64(f, t, back) == HESSE_OK && back[0] == 65504.0);
    t = hesse_st_find(f, "labels");
    CHECK(t && hesse_st_read_f64(f, t, back) == HESSE_OK && back[1] == 9 && back[2] == -1);
    CHECK(strcmp(hesse_st_meta(f, "k"), "v\"q") == 0);
    hesse_st_close(f);
    CHECK(count_entries(tmpdir, ".tmp.") == 0);
}

/* ---- Atomic writes and file checks ------------------------------------------------------ */

static void test_files(void) {
    char path[600], dir[600];
    tmp_path(path, sizeof path, "a.txt");
    CHECK(hesse_write_file_atomic(path, "first", 5) == HESSE_OK);
    CHECK(hesse_write_file_atomic(path, "second!", 7) == HESSE_OK); /* replaces */
    unsigned char *data;
    size_t len;
    CHECK(hesse_read_file(path, &data, &len) == HESSE_OK && len == 7 &&
          memcmp(data, "second!", 8) == 0); /* NUL-terminated */
    free(data);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644); /* umask 022, not mkstemp's 0600 */
    CHECK(hesse_write_file_atomic(path, "", 0) == HESSE_OK);
    CHECK(hesse_read_file(path, &data, &len) == HESSE_OK && len == 0 && data[0] == '\0');
    free(data);

    /* A directory that does not exist: HESSE_EIO naming the path, nothing created. */
    tmp_path(dir, sizeof dir, "nowhere/x.json");
    hesse_clear_error();
    CHECK(hesse_write_file_atomic(dir, "x", 1) == HESSE_EIO);
    CHECK(strstr(hesse_last_error(), dir) && strstr(hesse_last_error(), "No such file"));
    CHECK(hesse_check_writable(dir) == HESSE_EIO && strstr(hesse_last_error(), dir));

    /* The target is a directory: the rename fails after the data was written; the
     * directory survives and the temporary file is gone. */
    tmp_path(dir, sizeof dir, "adir");
    CHECK(mkdir(dir, 0755) == 0);
    char inside[700];
    snprintf(inside, sizeof inside, "%s/keep", dir);
    CHECK(hesse_write_file_atomic(inside, "k", 1) == HESSE_OK);
    CHECK(hesse_write_file_atomic(dir, "x", 1) == HESSE_EIO && strstr(hesse_last_error(), dir));
    CHECK(stat(inside, &st) == 0);
    CHECK(hesse_check_writable(dir) == HESSE_EIO);
    CHECK(hesse_check_writable(inside) == HESSE_OK);
    CHECK(hesse_check_writable("relative-name.json") == HESSE_OK); /* the working directory */

    /* A directory without write permission (root ignores permissions: skipped there). */
    if (geteuid() != 0) {
        tmp_path(dir, sizeof dir, "ro");
        CHECK(mkdir(dir, 0555) == 0);
        snprintf(inside, sizeof inside, "%s/x.json", dir);
        CHECK(hesse_write_file_atomic(inside, "x", 1) == HESSE_EIO &&
              strstr(hesse_last_error(), "Permission denied"));
        CHECK(hesse_check_writable(inside) == HESSE_EIO);
        CHECK(count_entries(dir, "") == 0);
        chmod(dir, 0755);
    }
    CHECK(count_entries(tmpdir, ".tmp.") == 0);

    /* Reading: a missing file or a directory is bad input; a pipe-like file of unknown size
     * is read to its end. */
    tmp_path(path, sizeof path, "missing.bin");
    CHECK(hesse_read_file(path, &data, &len) == HESSE_EINPUT && strstr(hesse_last_error(), path));
    CHECK(hesse_read_file(tmpdir, &data, &len) == HESSE_EINPUT);
    CHECK(hesse_read_file("/proc/self/status", &data, &len) == HESSE_OK && len > 0 &&
          strstr((char *)data, "Umask"));
    free(data);
    hesse_st_file *f = NULL;
    CHECK(hesse_st_open(path, &f) == HESSE_EINPUT && f == NULL);
}

/* ---- The outputs of one run ------------------------------------------------------------ */

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void test_outputs(void) {
    char in[600], a[600], b[600], sym[600], hard[600], ro[600];
    tmp_path(in, sizeof in, "out_in.bin");
    tmp_path(a, sizeof a, "out_a.json");
    tmp_path(b, sizeof b, "out_b.json");
    tmp_path(sym, sizeof sym, "out_link.bin");
    tmp_path(hard, sizeof hard, "out_hard.bin");
    tmp_path(ro, sizeof ro, "out_ro.json");
    REQUIRE(hesse_write_file_atomic(in, "input", 5) == HESSE_OK);
    REQUIRE(symlink("out_in.bin", sym) == 0 && link(in, hard) == 0);
    hesse_outputs *o = NULL;
    REQUIRE(hesse_outputs_create(&o) == HESSE_OK);
    CHECK(hesse_outputs_input(o, in, "option --model") == HESSE_OK);
    /* an input by its name, through a symbolic link, as a hard link: refused, naming both */
    CHECK(hesse_outputs_add(o, in, "option --output", 1, NULL) == HESSE_EINVAL &&
          strstr(hesse_last_error(), "option --output") &&
          strstr(hesse_last_error(), "is the same file as option --model"));
    CHECK(hesse_outputs_add(o, sym, "option --output", 1, NULL) == HESSE_EINVAL);
    CHECK(hesse_outputs_add(o, hard, "option --output", 1, NULL) == HESSE_EINVAL);
    /* ... unless it is the input the output may be (a checkpoint and its --resume) */
    CHECK(hesse_outputs_add(o, in, "option --checkpoint", 0, "option --model") == HESSE_OK);
    /* two outputs of one name, the second not existing yet */
    CHECK(hesse_outputs_add(o, a, "option --output", 1, NULL) == HESSE_OK);
    CHECK(hesse_outputs_add(o, a, "option --svg", 1, NULL) == HESSE_EINVAL &&
          strstr(hesse_last_error(), "two outputs of one run may not be one file"));
    CHECK(hesse_outputs_add(o, b, "option --svg", 1, NULL) == HESSE_OK);
    /* a device is written in place and may be named twice */
    CHECK(hesse_outputs_add(o, "/dev/null", "option --vectors", 1, NULL) == HESSE_OK);
    CHECK(hesse_outputs_add(o, "/dev/null", "option --csv", 1, NULL) == HESSE_OK);
    /* a write-protected file is refused, for root too */
    REQUIRE(hesse_write_file_atomic(ro, "keep", 4) == HESSE_OK && chmod(ro, 0444) == 0);
    CHECK(hesse_outputs_add(o, ro, "option --output", 1, NULL) == HESSE_EIO &&
          strstr(hesse_last_error(), "write-protected"));
    CHECK(hesse_write_file_atomic(ro, "x", 1) == HESSE_EIO);

    /* Staged while active: nothing appears until the commit; a device is written at once. */
    hesse_outputs_activate(o);
    CHECK(hesse_write_file_atomic(a, "first", 5) == HESSE_OK && !exists(a));
    CHECK(hesse_write_file_atomic(a, "again", 5) == HESSE_OK && !exists(a)); /* the newer counts */
    CHECK(hesse_write_file_atomic(b, "bbb", 3) == HESSE_OK && !exists(b));
    CHECK(hesse_write_file_atomic("/dev/null", "x", 1) == HESSE_OK);
    CHECK(hesse_write_file_atomic(in, "ckpt", 4) == HESSE_OK); /* not staged: at once */
    CHECK(count_entries(tmpdir, "out_a.json.tmp.") == 1 &&
          count_entries(tmpdir, "out_b.json.tmp.") == 1);
    CHECK(hesse_outputs_commit(o) == HESSE_OK);
    unsigned char *data = NULL;
    size_t len = 0;
    CHECK(hesse_read_file(a, &data, &len) == HESSE_OK && len == 5 && memcmp(data, "again", 5) == 0);
    free(data);
    CHECK(exists(b) && count_entries(tmpdir, ".tmp.") == 0);
    /* Who else is a file (before a finished checkpoint is removed): the input by its name, a
     * link or a hard link to it (its `what` unless skipped, then the checkpoint output that is
     * the same file), a committed output by its path; nobody for another file or none. */
    static const char *const model_only[] = {"option --model", NULL};
    static const char *const both[] = {"option --model", "option --checkpoint", NULL};
    const char *w = hesse_outputs_user(o, hard, NULL);
    CHECK(w && strcmp(w, "option --model") == 0);
    w = hesse_outputs_user(o, sym, model_only);
    CHECK(w && strcmp(w, "option --checkpoint") == 0);
    CHECK(hesse_outputs_user(o, in, both) == NULL);
    w = hesse_outputs_user(o, a, NULL);
    CHECK(w && strcmp(w, "option --output") == 0);
    CHECK(hesse_outputs_user(o, ro, NULL) == NULL &&
          hesse_outputs_user(o, "/nonexistent", NULL) == NULL);
    hesse_outputs_free(o);

    /* Freed without a commit: every staged file is removed, nothing is renamed. */
    unlink(a);
    unlink(b);
    REQUIRE(hesse_outputs_create(&o) == HESSE_OK);
    CHECK(hesse_outputs_add(o, a, "option --output", 1, NULL) == HESSE_OK);
    CHECK(hesse_outputs_add(o, b, "option --svg", 1, NULL) == HESSE_OK);
    hesse_outputs_activate(o);
    CHECK(hesse_write_file_atomic(b, "bbb", 3) == HESSE_OK);
    CHECK(hesse_write_file_atomic("/nonexistent-dir/x", "a", 1) == HESSE_EIO);
    hesse_outputs_free(o); /* also deactivates */
    CHECK(!exists(a) && !exists(b) && count_entries(tmpdir, ".tmp.") == 0);
    CHECK(hesse_write_file_atomic(b, "b", 1) == HESSE_OK && exists(b)); /* no set: at once */

    /* A symbolic link as an output: written through, the link kept. */
    char target[600], out_link[600];
    tmp_path(target, sizeof target, "out_target.json");
    tmp_path(out_link, sizeof out_link, "out_tolink.json");
    REQUIRE(symlink("out_target.json", out_link) == 0);
    CHECK(hesse_write_file_atomic(out_link, "linked", 6) == HESSE_OK);
    struct stat st;
    CHECK(lstat(out_link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(hesse_read_file(target, &data, &len) == HESSE_OK && len == 6);
    free(data);
    chmod(ro, 0644);
}

/* hesse_read_file_sized: an endless source is read only as far as its header says; a regular
 * file is read whole. */
static void size_from_first_byte(void *ctx, const unsigned char *data, size_t have, size_t from,
                                 size_t *total) {
    (void)ctx;
    (void)from;
    if (have >= 1) *total = 1 + (size_t)data[0];
}

static void test_read_sized(void) {
    unsigned char *data = NULL;
    size_t len = 0;
    CHECK(hesse_read_file_sized("/dev/zero", size_from_first_byte, NULL, 1 << 20, &data, &len) ==
              HESSE_OK &&
          len == 1);
    free(data);
    CHECK(hesse_read_file_sized("/dev/zero", hesse_read_size_text, NULL, 1 << 20, &data, &len) ==
              HESSE_OK &&
          len == 1);
    free(data);
    /* a source that never tells: refused past the cap, naming it */
    CHECK(hesse_read_file_sized("/dev/zero", NULL, NULL, 1 << 16, &data, &len) == HESSE_EINPUT &&
          strstr(hesse_last_error(), "/dev/zero") && data == NULL);
    /* a FIFO whose NUL arrives after several reads: the text ends there, and every byte
     * before it is kept */
    char fifo[600];
    tmp_path(fifo, sizeof fifo, "sized.fifo");
    REQUIRE(mkfifo(fifo, 0600) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        FILE *w = fopen(fifo, "wb");
        for (int i = 0; w && i < 300000; i++) fputc('a', w);
        if (w) {
            fwrite("\0tail", 1, 5, w);
            fclose(w);
        }
        _exit(0);
    }
    CHECK(hesse_read_file_sized(fifo, hesse_read_size_text, NULL, 1 << 20, &data, &len) ==
              HESSE_OK &&
          len == 300001 && data[299999] == 'a' && data[300000] == '\0');
    free(data);
    waitpid(child, NULL, 0);
    char path[600];
    tmp_path(path, sizeof path, "sized.bin");
    REQUIRE(hesse_write_file_atomic(path, "\001abcdef", 7) == HESSE_OK);
    CHECK(hesse_read_file_sized(path, size_from_first_byte, NULL, 1, &data, &len) == HESSE_OK &&
          len == 7); /* regular: whole, whatever the header says */
    free(data);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void test_json(int argc, char **argv) {
    const double v[] = {0.1,
                        1.0 / 3.0,
                        1e-300,
                        -0.0,
                        0.0,
                        5e-324,
                        0.30000000000000004,
                        DBL_MAX,
                        -DBL_MIN,
                        123456789.125,
                        9007199254740994.0,
                        -7,
                        1e21,
                        2.5e-8,
                        NAN,
                        INFINITY,
                        -INFINITY};
    const int n = (int)(sizeof v / sizeof v[0]);
    cJSON *doc = hesse_result_new("test", argc, argv);
    REQUIRE(doc);
    CHECK(hesse_json_add_doubles(doc, "v", v, n) != NULL);
    CHECK(hesse_json_add_doubles(doc, "empty", v, 0) != NULL);
    cJSON_AddStringToObject(doc, "text", "quote\" back\\ nl\n tab\t ctl\x01 utf8 \xc3\xa9");
    cJSON *nested = cJSON_AddArrayToObject(doc, "nested");
    cJSON_AddItemToArray(nested, cJSON_CreateObject());
    cJSON_AddItemToArray(nested, cJSON_CreateTrue());

    char path[600];
    tmp_path(path, sizeof path, "r.json");
    REQUIRE(hesse_json_write(doc, path) == HESSE_OK);
    cJSON_Delete(doc);
    unsigned char *text;
    size_t len;
    REQUIRE(hesse_read_file(path, &text, &len) == HESSE_OK);
    CHECK(len > 0 && text[len - 1] == '\n');
    cJSON *back = cJSON_Parse((const char *)text);
    REQUIRE(back);
    CHECK(strstr((char *)text, "\n  \"schema\": \"hesse.test/1\"") != NULL); /* pretty */
    free(text);

    /* Every finite double reads back bit for bit; non-finite ones are null. */
    const cJSON *arr = cJSON_GetObjectItem(back, "v");
    CHECK(cJSON_GetArraySize(arr) == n);
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(arr, i);
        if (isfinite(v[i]))
            CHECK_MSG(cJSON_IsNumber(x) && memcmp(&x->valuedouble, &v[i], sizeof(double)) == 0,
                      "value %d: %.17g read back as %.17g", i, v[i], x ? x->valuedouble : NAN);
        else
            CHECK(cJSON_IsNull(x));
    }
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(back, "empty")) == 0);
    CHECK(strcmp(cJSON_GetObjectItem(back, "text")->valuestring,
                 "quote\" back\\ nl\n tab\t ctl\x01 utf8 \xc3\xa9") == 0);
    const cJSON *nest = cJSON_GetObjectItem(back, "nested");
    CHECK(cJSON_IsObject(cJSON_GetArrayItem(nest, 0)) && cJSON_IsTrue(cJSON_GetArrayItem(nest, 1)));

    /* The envelope. */
    CHECK(strcmp(cJSON_GetObjectItem(back, "schema")->valuestring, "hesse.test/1") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(back, "hesse_version")->valuestring, hesse_version()) == 0);
    const cJSON *cl = cJSON_GetObjectItem(back, "command_line");
    CHECK(cJSON_GetArraySize(cl) == argc &&
          strcmp(cJSON_GetArrayItem(cl, 0)->valuestring, argv[0]) == 0);
    const char *created = cJSON_GetObjectItem(back, "created")->valuestring;
    int y, mo, d, hh, mm, ss;
    char z = 0;
    CHECK(strlen(created) == 20 &&
          sscanf(created, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &hh, &mm, &ss, &z) == 7 &&
          z == 'Z' && y >= 2024);
    const cJSON *blas = cJSON_GetObjectItem(back, "blas");
    const char *keys[] = {"library", "core", "core_source", "cpu_model", "cpu_features"};
    for (int i = 0; i < 5; i++) CHECK(cJSON_IsString(cJSON_GetObjectItem(blas, keys[i])));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(blas, "threads")));
    cJSON_Delete(back);

    /* hesse_json_print of a bare number array is one line. */
    cJSON *small = cJSON_CreateObject();
    double w[3] = {1, -0.0, 0.5};
    hesse_json_add_doubles(small, "a", w, 3);
    char *s = NULL;
    CHECK(hesse_json_print(small, &s) == HESSE_OK);
    CHECK(s && strcmp(s, "{\n  \"a\": [1, -0.0, 0.5]\n}\n") == 0);
    free(s);
    cJSON_Delete(small);
}

int main(int argc, char **argv) {
    REQUIRE(mkdtemp(tmpdir) != NULL);
    umask(022);
    test_half();
    test_dtypes();
    test_pytorch_fixture();
    test_malformed();
    test_corruptions();
    test_writer();
    test_files();
    test_outputs();
    test_read_sized();
    test_json(argc, argv);
    remove_tree(tmpdir);
    return test_summary("test_io");
}

/* core/: status strings, error detail, aligned allocation, RNG reproducibility and moments, SHA-256
 * against the FIPS 180-2 test vectors. (The counted operator wrapper: test_op_spectral.) */
#include <hesse/core.h>

#include <string.h>

#include "check.h"

static void test_errors(void) {
    CHECK(strcmp(hesse_strerror(HESSE_EINPUT), "bad input") == 0);
    CHECK(hesse_error(HESSE_EINPUT, "file %s: expected %d", "x.idx", 3) == HESSE_EINPUT);
    CHECK(strcmp(hesse_last_error(), "file x.idx: expected 3") == 0);
    CHECK(hesse_exit_code(HESSE_EINVAL) == 1);
    CHECK(hesse_exit_code(HESSE_EINPUT) == 2);
    CHECK(hesse_exit_code(HESSE_ENUMERIC) == 3);
    CHECK(hesse_exit_code(HESSE_ENOMEM) == 4);
    CHECK(hesse_exit_code(HESSE_EIO) == 4);
}

static void test_alloc(void) {
    double *p = hesse_alloc(10);
    CHECK(p && ((uintptr_t)p % 64) == 0);
    hesse_free(p);
    hesse_free(NULL);
    CHECK(hesse_calloc(SIZE_MAX / 2, 4) == NULL); /* overflow is refused, not wrapped */
}

static void test_rng(void) {
    hesse_rng a, b;
    hesse_rng_seed(&a, 42);
    hesse_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= hesse_rng_u64(&a) == hesse_rng_u64(&b);
    CHECK(same);
    hesse_rng_seed_stream(&b, 42, 1);
    CHECK(hesse_rng_u64(&a) != hesse_rng_u64(&b));

    /* Moments of 200k draws: the standard error of the mean is 1/sqrt(12 n) = 6.5e-4 for the
     * uniform and 1/sqrt(n) = 2.2e-3 for the normal; 5 standard errors cannot fail by chance
     * for a fixed seed and catch any gross bias. */
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0, sr = 0;
    for (int i = 0; i < n; i++) {
        su += hesse_rng_uniform(&a);
        double z = hesse_rng_normal(&a);
        sn += z;
        sn2 += z * z;
        sr += hesse_rng_rademacher(&a);
    }
    CHECK(fabs(su / n - 0.5) < 5 * 6.5e-4);
    CHECK(fabs(sn / n) < 5 * 2.2e-3);
    CHECK(fabs(sn2 / n - 1.0) < 5 * sqrt(2.0 / n));
    CHECK(fabs(sr / n) < 5 / sqrt((double)n));

    int64_t idx[10];
    for (int i = 0; i < 10; i++) idx[i] = i;
    hesse_rng_shuffle(&a, idx, 10);
    int seen[10] = {0};
    for (int i = 0; i < 10; i++) seen[idx[i]]++;
    int perm = 1;
    for (int i = 0; i < 10; i++) perm &= seen[i] == 1;
    CHECK(perm);
    for (int i = 0; i < 1000; i++) CHECK(hesse_rng_below(&a, 7) < 7);
}

static void sha_hex(const char *msg, char hex[65]) {
    hesse_sha256 s;
    hesse_sha256_init(&s);
    hesse_sha256_update(&s, msg, strlen(msg));
    hesse_sha256_hex(&s, hex);
}

static void test_sha256(void) {
    char hex[65];
    sha_hex("abc", hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    sha_hex("", hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
}

static void test_blas_choice(void) {
    hesse_blas_info info;
    hesse_blas_get_info(&info);
    CHECK(info.threads >= 1);
    CHECK(info.core[0] != '\0');
    const char *rec = hesse_cpu_recommended_core();
    if (rec && strstr(info.cpu_features, "avx512f")) CHECK(strcmp(rec, "SkylakeX") == 0);
}

int main(void) {
    test_errors();
    test_alloc();
    test_rng();
    test_sha256();
    test_blas_choice();
    return test_summary("test_core");
}

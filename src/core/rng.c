/* xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom number generators",
 * 2018) seeded through splitmix64, with Box-Muller normals. Bit-reproducible everywhere. */
#include <hesse/core.h>

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void hesse_rng_seed(hesse_rng *r, uint64_t seed) {
    hesse_rng_seed_stream(r, seed, 0);
}

void hesse_rng_seed_stream(hesse_rng *r, uint64_t seed, uint64_t stream) {
    /* Mix the stream into the seed through one splitmix round so that neighbouring
     * (seed, stream) pairs give unrelated states. */
    uint64_t x = seed;
    uint64_t mixed = splitmix64(&x) ^ (stream * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&mixed);
    r->has_spare = 0;
    r->spare = 0.0;
}

uint64_t hesse_rng_u64(hesse_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hesse_rng_uniform(hesse_rng *r) {
    return (double)(hesse_rng_u64(r) >> 11) * 0x1.0p-53;
}

double hesse_rng_normal(hesse_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2;
    do u1 = hesse_rng_uniform(r);
    while (u1 <= 0.0);
    u2 = hesse_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586 * u2;
    r->spare = rad * sin(ang);
    r->has_spare = 1;
    return rad * cos(ang);
}

double hesse_rng_rademacher(hesse_rng *r) {
    return (hesse_rng_u64(r) >> 63) ? 1.0 : -1.0;
}

uint64_t hesse_rng_below(hesse_rng *r, uint64_t n) {
    /* Rejection on the top of the range keeps the result unbiased. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = hesse_rng_u64(r);
    while (x >= limit);
    return x % n;
}

void hesse_rng_shuffle(hesse_rng *r, int64_t *idx, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)hesse_rng_below(r, (uint64_t)i + 1);
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

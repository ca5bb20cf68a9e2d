/* hesse/core.h: status codes and error detail, logging and progress hooks, aligned memory,
 * the seeded random generator, timers, hashing, and BLAS set-up.
 *
 * Room (DESIGN.md, the bottom layer core/): the services every other module uses; this one
 * uses only the C library and OpenBLAS. The linear operator is one floor up, in op.h.
 *
 * Thread safety: the last-error message is per thread; the log and progress hooks, the
 * memory override and BLAS set-up are process-wide and set before work starts. A hesse_rng
 * or hesse_sha256 is a plain value owned by its caller, one thread at a time. */
#ifndef HESSE_CORE_H
#define HESSE_CORE_H

#include <hesse/export.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status codes ----------------------------------------------------------------------
 * Functions return HESSE_OK (0) or a negative code; the thread-local last-error message
 * carries the detail (file, tensor or option, expected vs found). */
enum {
    HESSE_OK = 0,
    HESSE_EINVAL = -1,   /* invalid argument or option value (a usage error) */
    HESSE_EINPUT = -2,   /* bad input: file, format, shape, label */
    HESSE_ENUMERIC = -3, /* non-finite value, breakdown, or no convergence when required */
    HESSE_ENOMEM = -4,   /* memory exhausted or a request larger than the budget */
    HESSE_EIO = -5,      /* reading, writing or renaming a file failed */
    HESSE_EINTR = -6     /* stopped by a signal after saving its state */
};

/* A short fixed description of a status code ("bad input", ...). Never NULL. */
HESSE_API const char *hesse_strerror(int status);

/* Records a formatted detail message for the calling thread and returns `status`, so that
 * `return hesse_error(HESSE_EINPUT, "%s: expected ...", path);` reads as one statement. */
HESSE_API int hesse_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
HESSE_API int hesse_verror(int status, const char *fmt, va_list ap);

/* The calling thread's last detail message ("" when none). Valid until the next error. */
HESSE_API const char *hesse_last_error(void);
HESSE_API void hesse_clear_error(void);

/* The command-line exit code for a status (DESIGN.md): 0 ok, 1 usage, 2 bad input,
 * 3 numerical failure, 4 resource (memory, I/O), 130 interrupted. */
HESSE_API int hesse_exit_code(int status);

/* Propagates a failing status to the function's `cleanup:` label. Needs `int rc`. */
#define HESSE_CHECK(expr)                                                                          \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc != HESSE_OK) goto cleanup;                                                          \
    } while (0)

/* ---- Logging -------------------------------------------------------------------------------
 * The library never prints: it logs through a hook the application installs (the CLI prints
 * to stderr). Without a hook, messages are dropped. */
enum { HESSE_LOG_DEBUG = 0, HESSE_LOG_INFO = 1, HESSE_LOG_WARN = 2, HESSE_LOG_ERROR = 3 };
typedef void (*hesse_log_fn)(void *ctx, int level, const char *message);
HESSE_API void hesse_set_log(hesse_log_fn fn, void *ctx);
HESSE_API void hesse_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Progress --------------------------------------------------------------------------
 * Long work reports progress through a hook; the library never draws anything itself. */
typedef struct {
    const char *task;   /* what is running: "train", "dense", "lanczos", ... */
    double done, total; /* units of work done and expected (total <= 0: unknown) */
    double elapsed;     /* seconds since the task started */
    const char *detail; /* free text: losses, converged counts, Ritz values; may be "" */
    int finished;       /* 1 on the task's last report */
} hesse_progress;
typedef void (*hesse_progress_fn)(void *ctx, const hesse_progress *p);
HESSE_API void hesse_set_progress(hesse_progress_fn fn, void *ctx);
/* Sends one report to the installed hook (no-op without one). */
HESSE_API void hesse_report_progress(const hesse_progress *p);

/* ---- Memory ----------------------------------------------------------------------------
 * 64-byte aligned allocations. Both return NULL (and set the last error to HESSE_ENOMEM with
 * the size asked for) on failure or when count * size overflows. */
HESSE_API void *hesse_alloc(size_t bytes);
HESSE_API void *hesse_calloc(size_t count, size_t size);
HESSE_API void hesse_free(void *p);

/* Physical memory available to this process in bytes (MemAvailable), 0 if unknown. The
 * defaults that follow free memory (a solver's basis, the engine's activation cache) read it
 * here, so that ranks of one run can be made to agree (hesse_mem_set_available).
 * HESSE_MEM_AVAILABLE=BYTES in the environment replaces the system's figure (tests, caps). */
HESSE_API uint64_t hesse_mem_available(void);
/* Makes hesse_mem_available return `bytes` from now on in this process (0: the system's
 * figure again). Not thread-safe: call before starting work. */
HESSE_API void hesse_mem_set_available(uint64_t bytes);
/* Peak resident set size of this process in bytes, 0 if unknown. */
HESSE_API uint64_t hesse_peak_rss(void);

/* ---- Random numbers --------------------------------------------------------------------
 * xoshiro256** seeded through splitmix64. The state is a plain struct so that it can be
 * checkpointed; the same seed gives the same bits on every machine. */
typedef struct {
    uint64_t s[4];
    int has_spare; /* Box-Muller keeps its second normal */
    double spare;
} hesse_rng;

HESSE_API void hesse_rng_seed(hesse_rng *r, uint64_t seed);
/* An independent stream for (seed, stream): use one per probe or per worker. */
HESSE_API void hesse_rng_seed_stream(hesse_rng *r, uint64_t seed, uint64_t stream);
HESSE_API uint64_t hesse_rng_u64(hesse_rng *r);
HESSE_API double hesse_rng_uniform(hesse_rng *r);    /* [0, 1), 53 random bits */
HESSE_API double hesse_rng_normal(hesse_rng *r);     /* standard normal */
HESSE_API double hesse_rng_rademacher(hesse_rng *r); /* +1 or -1 */
HESSE_API uint64_t hesse_rng_below(hesse_rng *r,
                                   uint64_t n); /* uniform in [0, n), n > 0, unbiased */
/* Fisher-Yates shuffle of idx[0..n). */
HESSE_API void hesse_rng_shuffle(hesse_rng *r, int64_t *idx, int64_t n);

/* ---- Time ------------------------------------------------------------------------------ */
HESSE_API double hesse_now(void); /* monotonic seconds */

/* ---- Hashing ---------------------------------------------------------------------------
 * SHA-256, for model and data fingerprints that results cite. */
typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char buf[64];
    size_t fill;
} hesse_sha256;
HESSE_API void hesse_sha256_init(hesse_sha256 *s);
HESSE_API void hesse_sha256_update(hesse_sha256 *s, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL to hex[65]. */
HESSE_API void hesse_sha256_hex(hesse_sha256 *s, char hex[65]);

/* ---- BLAS set-up -----------------------------------------------------------------------
 * Debian's OpenBLAS reads OPENBLAS_CORETYPE once, when it loads, and mis-detects some CPUs
 * (Sapphire Rapids -> "Prescott", 5x slow DGEMM). hesse picks the core from the CPU's
 * features: AVX-512F -> SkylakeX, AVX2 + FMA -> Haswell, otherwise OpenBLAS's own choice.
 * A value the user set is never overridden. */

/* The core hesse recommends for this CPU, or NULL to leave OpenBLAS's detection. */
HESSE_API const char *hesse_cpu_recommended_core(void);

/* Call first thing in main(): when OPENBLAS_CORETYPE is unset and a core is recommended,
 * sets it and re-executes the program (argv unchanged) so that OpenBLAS loads with it.
 * Returns only when no re-exec was needed or the re-exec failed (then it logs a warning). */
HESSE_API void hesse_blas_prepare(int argc, char **argv);

typedef struct {
    char library[160];     /* OpenBLAS configuration string */
    char core[32];         /* the kernel core OpenBLAS runs with */
    char core_env[32];     /* OPENBLAS_CORETYPE as seen by this process ("" if unset) */
    char core_source[16];  /* "user", "hesse" or "openblas" (autodetected) */
    int threads;           /* BLAS threads */
    char cpu_model[96];    /* from /proc/cpuinfo when readable */
    char cpu_features[96]; /* the features that steer the choice, e.g. "avx2 fma avx512f" */
    int cpus;              /* online processors */
} hesse_blas_info;
HESSE_API void hesse_blas_get_info(hesse_blas_info *info);
/* BLAS's thread count, process-wide (OpenBLAS keeps one): only core/ touches it. set ignores
 * threads <= 0. A multi-worker engine sets it to 1 while its workers run and back after
 * (hesse/nn.h), so the application sets it only between library calls. */
HESSE_API void hesse_blas_set_threads(int threads);
HESSE_API int hesse_blas_get_threads(void);

/* The library's version string, "0.1.0". */
HESSE_API const char *hesse_version(void);

#ifdef __cplusplus
}
#endif
#endif /* HESSE_CORE_H */

/* BLAS set-up: the OpenBLAS kernel core chosen from the CPU's features (DESIGN.md). */
#include <hesse/core.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* OpenBLAS extensions (declared in its cblas.h, repeated here to keep this file free of
 * the header's non-standard declarations). */
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

#define REEXEC_GUARD "HESSE_BLAS_REEXEC"

const char *hesse_cpu_recommended_core(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

void hesse_blas_prepare(int argc, char **argv) {
    (void)argc;
    if (getenv("OPENBLAS_CORETYPE")) return; /* the user's (or an earlier pass's) choice */
    const char *core = hesse_cpu_recommended_core();
    if (!core || getenv(REEXEC_GUARD)) return;
    if (setenv("OPENBLAS_CORETYPE", core, 1) != 0 || setenv(REEXEC_GUARD, core, 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* Only reached when the re-exec failed: carry on with OpenBLAS's own choice. */
    hesse_log(HESSE_LOG_WARN,
              "could not re-execute with OPENBLAS_CORETYPE=%s (%s); BLAS may run slow", core,
              strerror(errno));
    unsetenv("OPENBLAS_CORETYPE");
}

static void copy_str(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

static void read_cpu_model(char *dst, size_t cap) {
    dst[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *colon = strchr(line, ':');
        if (!colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        copy_str(dst, cap, colon);
        size_t n = strlen(dst);
        while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' ')) dst[--n] = '\0';
        break;
    }
    fclose(f);
}

void hesse_blas_get_info(hesse_blas_info *info) {
    memset(info, 0, sizeof *info);
    copy_str(info->library, sizeof info->library, openblas_get_config());
    copy_str(info->core, sizeof info->core, openblas_get_corename());
    const char *env = getenv("OPENBLAS_CORETYPE");
    copy_str(info->core_env, sizeof info->core_env, env);
    const char *guard = getenv(REEXEC_GUARD);
    if (!env)
        copy_str(info->core_source, sizeof info->core_source, "openblas");
    else if (guard && strcmp(guard, env) == 0)
        copy_str(info->core_source, sizeof info->core_source, "hesse");
    else
        copy_str(info->core_source, sizeof info->core_source, "user");
    info->threads = openblas_get_num_threads();
    read_cpu_model(info->cpu_model, sizeof info->cpu_model);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    info->cpus = cpus > 0 ? (int)cpus : 1;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    static const char *const names[] = {"sse4.2", "avx", "avx2", "fma", "avx512f"};
    size_t len = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int has = 0;
        switch (i) {
        case 0:
            has = __builtin_cpu_supports("sse4.2");
            break;
        case 1:
            has = __builtin_cpu_supports("avx");
            break;
        case 2:
            has = __builtin_cpu_supports("avx2");
            break;
        case 3:
            has = __builtin_cpu_supports("fma");
            break;
        case 4:
            has = __builtin_cpu_supports("avx512f");
            break;
        }
        if (has && len + strlen(names[i]) + 2 < sizeof info->cpu_features)
            len += (size_t)snprintf(info->cpu_features + len, sizeof info->cpu_features - len,
                                    "%s%s", len ? " " : "", names[i]);
    }
#endif
}

void hesse_blas_set_threads(int threads) {
    if (threads > 0) openblas_set_num_threads(threads);
}

int hesse_blas_get_threads(void) {
    return openblas_get_num_threads();
}

/* Aligned allocation and what the process may use. */
#include <hesse/core.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define HESSE_ALIGN 64

void *hesse_alloc(size_t bytes) {
    if (bytes == 0) bytes = HESSE_ALIGN;
    size_t rounded = (bytes + HESSE_ALIGN - 1) / HESSE_ALIGN * HESSE_ALIGN;
    void *p = rounded >= bytes ? aligned_alloc(HESSE_ALIGN, rounded) : NULL;
    if (!p) hesse_error(HESSE_ENOMEM, "cannot allocate %zu bytes", bytes);
    return p;
}

void *hesse_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) {
        hesse_error(HESSE_ENOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = hesse_alloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void hesse_free(void *p) {
    free(p);
}

static uint64_t mem_fixed;

void hesse_mem_set_available(uint64_t bytes) {
    mem_fixed = bytes;
}

uint64_t hesse_mem_available(void) {
    if (mem_fixed) return mem_fixed;
    const char *env = getenv("HESSE_MEM_AVAILABLE");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0' && v > 0) return (uint64_t)v;
    }
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024u;
}

uint64_t hesse_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_maxrss * 1024u; /* Linux reports kilobytes */
}

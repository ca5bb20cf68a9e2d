/* Text as bytes: a file (or a directory's files, concatenated) cut into windows of T token ids
 * with their T next-byte targets, split by position (the last tenth of the text is the test
 * split), for language models. data.h states the windows; Debian's fortunes corpus is found by
 * name (text:fortunes: the whole directory). */
#include "data-impl.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The most bytes a text file may hold: its windows take five times as much (the ids and the
 * int32 targets). */
#define TEXT_MAX_BYTES ((size_t)256 << 20)

int hesse_text_is_spec(const char *spec) {
    return spec && strncmp(spec, HESSE_TEXT_PREFIX, sizeof HESSE_TEXT_PREFIX - 1) == 0;
}

int hesse_text_find(const char *spec, char *path, size_t cap) {
    if (!spec || !path || cap == 0) return hesse_error(HESSE_EINVAL, "hesse_text_find: NULL");
    const char *name = hesse_text_is_spec(spec) ? spec + sizeof HESSE_TEXT_PREFIX - 1 : spec;
    if (!*name) return hesse_error(HESSE_EINVAL, "%s: expected text:FILE", spec);
    if (strcmp(name, "fortunes") != 0) {
        if (strlen(name) >= cap)
            return hesse_error(HESSE_EINPUT, "%s: the path is longer than %zu bytes", spec,
                               cap - 1);
        memcpy(path, name, strlen(name) + 1);
        return HESSE_OK;
    }
    /* Debian's fortunes (package fortunes) installs /usr/share/games/fortunes/fortunes beside
     * the other fortune files; other distributions use /usr/share/fortune(s). The directory
     * holding a file "fortunes" is the corpus. $HESSE_FORTUNES_DIR replaces the search. */
    const char *env = getenv("HESSE_FORTUNES_DIR");
    const char *dirs[] = {"/usr/share/games/fortunes", "/usr/share/fortunes", "/usr/share/fortune"};
    const int ndirs = env && *env ? 1 : (int)(sizeof dirs / sizeof dirs[0]);
    if (env && *env) dirs[0] = env;
    for (int i = 0; i < ndirs; i++)
        if (hesse_data_join(path, cap, dirs[i], "fortunes") == HESSE_OK &&
            hesse_data_is_file(path)) {
            memcpy(path, dirs[i], strlen(dirs[i]) + 1); /* fits: the joined path did */
            return HESSE_OK;
        }
    path[0] = '\0';
    if (env && *env)
        return hesse_error(HESSE_EINPUT,
                           "text:fortunes: no file fortunes in %s (HESSE_FORTUNES_DIR)", env);
    return hesse_error(HESSE_EINPUT,
                       "text:fortunes: no file fortunes in /usr/share/games/fortunes, "
                       "/usr/share/fortunes or /usr/share/fortune (install the Debian package "
                       "fortunes, or set HESSE_FORTUNES_DIR)");
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir that may hold text, sorted (strcmp): not hidden, not a strfile index (.dat). */
static int text_dir_names(const char *dir, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return hesse_error(HESSE_EINPUT, "text:%s: cannot open the directory", dir);
    int rc = HESSE_OK, cap = 0;
    for (struct dirent *e; rc == HESSE_OK && (e = readdir(d));) {
        const size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || (len >= 4 && strcmp(e->d_name + len - 4, ".dat") == 0)) continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(*names, (size_t)cap * sizeof *grown);
            if (!grown)
                rc = HESSE_ENOMEM;
            else
                *names = grown;
        }
        if (rc == HESSE_OK && !((*names)[*count] = strdup(e->d_name))) rc = HESSE_ENOMEM;
        if (rc == HESSE_OK) (*count)++;
    }
    closedir(d);
    if (rc != HESSE_OK) return hesse_error(rc, "text:%s: cannot list the directory", dir);
    if (*count > 1) qsort(*names, (size_t)*count, sizeof **names, name_cmp);
    return HESSE_OK;
}

/* Appends the regular file path to *text (*len bytes so far), unless it is a file already read
 * (seen[0..*nseen): a link or a second name of one). */
static int text_append(const char *path, struct stat *seen, int *nseen, unsigned char **text,
                       size_t *len) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return HESSE_OK; /* links followed */
    for (int i = 0; i < *nseen; i++)
        if (seen[i].st_dev == st.st_dev && seen[i].st_ino == st.st_ino) return HESSE_OK;
    seen[(*nseen)++] = st;
    if ((uint64_t)st.st_size > TEXT_MAX_BYTES - *len)
        return hesse_error(HESSE_EINPUT,
                           "text:%s: the directory's files hold more than the %zu "
                           "bytes a text may hold",
                           path, TEXT_MAX_BYTES);
    unsigned char *data = NULL;
    size_t n = 0;
    int rc = hesse_read_file_sized(path, NULL, NULL, TEXT_MAX_BYTES - *len, &data, &n);
    if (rc != HESSE_OK) return rc;
    unsigned char *grown = n ? realloc(*text, *len + n) : *text;
    if (n && !grown) rc = hesse_error(HESSE_ENOMEM, "text:%s: cannot hold %zu more bytes", path, n);
    if (grown) {
        if (n) memcpy(grown + *len, data, n);
        *text = grown;
        *len += n;
    }
    free(data);
    return rc;
}

/* A directory's text: its regular files (links followed) in the order of their names, less
 * hidden files, strfile indexes (*.dat) and files already read under another name (Debian's
 * NAME.u8 links to NAME), concatenated. */
static int text_read_dir(const char *dir, unsigned char **text, size_t *len) {
    char **names = NULL;
    int count = 0;
    *text = NULL;
    *len = 0;
    int rc = text_dir_names(dir, &names, &count);
    struct stat *seen = rc == HESSE_OK && count ? malloc((size_t)count * sizeof *seen) : NULL;
    if (rc == HESSE_OK && count && !seen) rc = HESSE_ENOMEM;
    int nseen = 0;
    char path[HESSE_DATA_PATH_MAX];
    for (int i = 0; i < count; i++) {
        if (rc == HESSE_OK) rc = hesse_data_join(path, sizeof path, dir, names[i]);
        if (rc == HESSE_OK) rc = text_append(path, seen, &nseen, text, len);
        free(names[i]);
    }
    free(names);
    free(seen);
    if (rc != HESSE_OK) {
        free(*text);
        *text = NULL;
        *len = 0;
    }
    return rc;
}

/* The split's byte range [*begin, *end) of a file of len bytes. */
static void text_range(size_t len, hesse_split split, size_t *begin, size_t *end) {
    const size_t cut = len - len / HESSE_TEXT_TEST_DIVISOR;
    *begin = split == HESSE_SPLIT_TRAIN ? 0 : cut;
    *end = split == HESSE_SPLIT_TRAIN ? cut : len;
}

/* "text:NAME/train" with NAME the path's last component. */
static void text_name(const char *path, hesse_split split, char *buf, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base && base[1] ? base + 1 : path;
    snprintf(buf, cap, "text:%s/%s", base, split == HESSE_SPLIT_TRAIN ? "train" : "test");
}

/* The windows of bytes [begin, end) of text into ds: n = floor((end - begin - 1) / T). */
static int text_windows(hesse_dataset *ds, const unsigned char *text, size_t begin, size_t end,
                        int T) {
    const int64_t n = (int64_t)((end - begin - 1) / (size_t)T);
    ds->bytes = malloc((size_t)(n * T));
    ds->labels = malloc((size_t)(n * T) * sizeof *ds->labels);
    if (!ds->bytes || !ds->labels)
        return hesse_error(HESSE_ENOMEM, "%s: cannot allocate %lld windows of %d bytes", ds->name,
                           (long long)n, T);
    memcpy(ds->bytes, text + begin, (size_t)(n * T)); /* window i: [begin + iT, begin + iT + T) */
    for (int64_t k = 0; k < n * T; k++) ds->labels[k] = text[begin + (size_t)k + 1];
    ds->n = n;
    ds->c = ds->w = 1;
    ds->h = T;
    ds->num_classes = 256;
    ds->targets = T;
    ds->tokens = 1;
    return HESSE_OK;
}

int hesse_dataset_text(const char *path, int context, hesse_split split, hesse_dataset **out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_dataset_text: out is NULL");
    *out = NULL;
    if (!path || !*path) return hesse_error(HESSE_EINVAL, "text: no file named");
    if (split != HESSE_SPLIT_TRAIN && split != HESSE_SPLIT_TEST)
        return hesse_error(HESSE_EINVAL, "%s: unknown split %d", path, (int)split);
    if (context < 1 || context > HESSE_TEXT_CONTEXT_MAX)
        return hesse_error(HESSE_EINVAL,
                           "text:%s: context %d is out of range (expected 1 to %d bytes)", path,
                           context, HESSE_TEXT_CONTEXT_MAX);
    struct stat st; /* a regular file too large is refused before it is read */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > TEXT_MAX_BYTES)
        return hesse_error(HESSE_EINPUT,
                           "text:%s: %lld bytes, more than the %zu a text file may hold", path,
                           (long long)st.st_size, TEXT_MAX_BYTES);
    unsigned char *text = NULL;
    size_t len = 0;
    int rc = hesse_data_is_dir(path)
                 ? text_read_dir(path, &text, &len)
                 : hesse_read_file_sized(path, NULL, NULL, TEXT_MAX_BYTES, &text, &len);
    if (rc != HESSE_OK) return rc;
    hesse_dataset *ds = NULL;
    size_t begin, end;
    text_range(len, split, &begin, &end);
    const size_t need = (size_t)context + 1;
    if (len < need) {
        rc = hesse_error(HESSE_EINPUT,
                         "text:%s: %zu bytes, shorter than one window of context %d and its next "
                         "byte (%zu bytes)",
                         path, len, context, need);
    } else if (end - begin < need) {
        rc = hesse_error(HESSE_EINPUT,
                         "text:%s: the %s split (%s %zu of %zu bytes) is shorter than one window "
                         "of context %d and its next byte (%zu bytes)",
                         path, split == HESSE_SPLIT_TRAIN ? "training" : "test",
                         split == HESSE_SPLIT_TRAIN ? "the first" : "the last", end - begin, len,
                         context, need);
    } else {
        char name[HESSE_DATA_PATH_MAX + 16];
        text_name(path, split, name, sizeof name);
        ds = hesse_data_new(name);
        rc = ds ? text_windows(ds, text, begin, end, context) : HESSE_ENOMEM;
    }
    free(text);
    if (rc != HESSE_OK) {
        hesse_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return HESSE_OK;
}

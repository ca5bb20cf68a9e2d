/* A growable byte buffer and the JSON text pieces (strings, exact numbers) that the
 * safetensors writer and the result printer share. */
#include "io-impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int iobuf_reserve(hesse_iobuf *b, size_t extra) {
    if (b->failed) return 0;
    if (extra < b->cap - b->len) return 1; /* keeps room for the NUL */
    size_t need = b->len + extra + 1;
    if (need < b->len) goto fail; /* overflow */
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) goto fail;
    b->data = d;
    b->cap = cap;
    return 1;
fail:
    b->failed = 1;
    hesse_error(HESSE_ENOMEM, "out of memory building a %zu-byte text", b->len);
    return 0;
}

void hesse_iobuf_append(hesse_iobuf *b, const void *data, size_t len) {
    if (!iobuf_reserve(b, len)) return;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void hesse_iobuf_puts(hesse_iobuf *b, const char *s) {
    hesse_iobuf_append(b, s, strlen(s));
}

void hesse_iobuf_printf(hesse_iobuf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        hesse_iobuf_append(b, small, (size_t)n);
        return;
    }
    if (!iobuf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hesse_iobuf_json_string(hesse_iobuf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    hesse_iobuf_append(b, "\"", 1);
    const char *run = s; /* bytes that need no escape are copied in runs */
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != '\0' && c != '"' && c != '\\' && c >= 0x20) continue;
        hesse_iobuf_append(b, run, (size_t)(p - run));
        if (c == '\0') break;
        run = p + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u';
            esc[2] = esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
        }
        hesse_iobuf_puts(b, esc);
    }
    hesse_iobuf_append(b, "\"", 1);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as v; %.17g always does for IEEE
 * doubles. Integers below 2^53 print without exponent so that counts look like counts. */
void hesse_iobuf_json_number(hesse_iobuf *b, double v) {
    if (!isfinite(v)) {
        hesse_iobuf_puts(b, "null");
        return;
    }
    if (v == 0) {
        hesse_iobuf_puts(b, signbit(v) ? "-0.0" : "0"); /* "-0" would read as integer 0 */
        return;
    }
    char s[40];
    if (fabs(v) < 9007199254740992.0 && v == floor(v)) {
        snprintf(s, sizeof s, "%.0f", v);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(s, sizeof s, "%.*g", prec, v);
            if (strtod(s, NULL) == v) break;
        }
    }
    /* A locale with a decimal comma would make this invalid JSON (hesse never sets one, but
     * a program embedding it may). */
    for (char *p = s; *p; p++)
        if (*p == ',') *p = '.';
    hesse_iobuf_puts(b, s);
}

int hesse_iobuf_status(const hesse_iobuf *b) {
    return b->failed ? HESSE_ENOMEM : HESSE_OK;
}

void hesse_iobuf_free(hesse_iobuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* hesse/export.h: HESSE_API marks the declarations that make up libhesse's interface.
 *
 * libhesse.so is compiled with -fvisibility=hidden, so a function is exported only when its
 * public declaration carries HESSE_API; everything else (the *-impl.h helpers) stays inside
 * the library. tests/install/symbols.sh fails on a public declaration without it;
 * tools/hesse_api.py adds it to every declaration that lacks it. */
#ifndef HESSE_EXPORT_H
#define HESSE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define HESSE_API __attribute__((visibility("default")))
#else
#define HESSE_API
#endif

#endif /* HESSE_EXPORT_H */

/*
 * lmr_api.h -- LMR_API, the marker of lmref's public functions.
 *
 * The library is compiled with -fvisibility=hidden, so a function is
 * exported from liblmref.so only when its declaration carries LMR_API; the
 * library's internal helpers (lmr_check.h, lmr_layernorm_stats.h, which are
 * not installed) do not, and stay private to it. Every installed header
 * wraps its declarations in extern "C", so C++ programs link too.
 */
#ifndef LMR_API_H
#define LMR_API_H

#if defined(__GNUC__) || defined(__clang__)
#define LMR_API __attribute__((visibility("default")))
#else
#define LMR_API
#endif

#endif

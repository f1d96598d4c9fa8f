/* SPDX-License-Identifier: BSD-3-Clause */
/* MG_ASAN: 1 in an AddressSanitizer build (GCC says __SANITIZE_ADDRESS__,
 * clang __has_feature(address_sanitizer)), else 0. For code that must
 * behave differently under ASan: pools that poison what they hold, tests
 * that count allocations, a bench that cannot dlopen with RTLD_DEEPBIND. */
#ifndef MG_ASAN_H
#define MG_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define MG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MG_ASAN 1
#endif
#endif
#ifndef MG_ASAN
#define MG_ASAN 0
#endif

#endif

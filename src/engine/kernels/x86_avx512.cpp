// The x86 kernels of kernels/x86_kernels.inc built for avx512. Only this file's functions
// use these instructions; kernels/dispatch.cpp calls them only on CPUs that have them.
#include "kernels/dispatch.h"

// GCC 12's AVX-512 headers start some conversions from an "undefined" register, which
// -Wmaybe-uninitialized reports at -O3 (a false positive inside the headers).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/half.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16")
#endif
#define LOUPE_X86_AVX512 1
#define LOUPE_X86_INSTALL install_avx512_kernels
#define LOUPE_X86_ISA KernelIsa::Avx512

namespace loupe {
#include "kernels/x86_kernels.inc"
}  // namespace loupe

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

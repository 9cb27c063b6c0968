// The x86 kernels of kernels/x86_kernels.inc built for avx2. Only this file's functions
// use these instructions; kernels/dispatch.cpp calls them only on CPUs that have them.
#include "kernels/dispatch.h"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/half.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,bmi2")
#endif

#define LOUPE_X86_INSTALL install_avx2_kernels
#define LOUPE_X86_ISA KernelIsa::Avx2

namespace loupe {
#include "kernels/x86_kernels.inc"
}  // namespace loupe

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

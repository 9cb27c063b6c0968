// Picks the kernels once: scalar table first, then each supported instruction set
// overlays what it implements, in increasing order of preference.
#include "kernels/dispatch.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"

namespace loupe {
namespace {

bool cpu_has_avx2() {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx512() {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
         __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

KernelTable build_table(KernelIsa isa) {
  KernelTable table;
  table.vector = scalar_vector_kernels();
  for (const TensorTypeInfo& info : all_type_infos()) {
    TypeKernels& k = table.by_id[uint32_t(info.type)];
    k.partner = info.dot_partner;
    k.quantize = type_info(info.dot_partner).from_float;
    k.dot = info.dot;
    k.dot_isa = KernelIsa::Scalar;
    if (const PackedTypeInfo* packed = find_packed_info(info.type)) {
      k.packed_quantize = packed->quantize;
      k.packed_tile = packed->tile;
      k.packed_tail_dot = packed->tail_dot;
    }
  }
  if (isa == KernelIsa::Avx2 || isa == KernelIsa::Avx512) install_avx2_kernels(table);
  if (isa == KernelIsa::Avx512) install_avx512_kernels(table);
  if (isa == KernelIsa::Simd128) install_simd128_kernels(table);
  return table;
}

KernelIsa best_isa() {
  if (kernel_isa_supported(KernelIsa::Avx512)) return KernelIsa::Avx512;
  if (kernel_isa_supported(KernelIsa::Avx2)) return KernelIsa::Avx2;
  if (kernel_isa_supported(KernelIsa::Simd128)) return KernelIsa::Simd128;
  return KernelIsa::Scalar;
}

KernelIsa initial_isa() {
  KernelIsa isa = best_isa();
  if (const char* env = std::getenv("LOUPE_KERNELS")) {
    for (KernelIsa candidate : {KernelIsa::Scalar, KernelIsa::Avx2, KernelIsa::Avx512, KernelIsa::Simd128}) {
      if (std::strcmp(env, kernel_isa_name(candidate)) == 0 && kernel_isa_supported(candidate)) isa = candidate;
    }
  }
  return isa;
}

struct Active {
  KernelIsa isa;
  KernelTable table;
  Active() : isa(initial_isa()), table(build_table(isa)) {}
};

Active& active() {
  static Active a;
  return a;
}

}  // namespace

const char* kernel_isa_name(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::Scalar: return "scalar";
    case KernelIsa::Avx2: return "avx2";
    case KernelIsa::Avx512: return "avx512";
    case KernelIsa::Simd128: return "simd128";
  }
  return "?";
}

bool kernel_isa_supported(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::Scalar: return true;
    case KernelIsa::Avx2: return cpu_has_avx2();
    case KernelIsa::Avx512: return cpu_has_avx512();
    case KernelIsa::Simd128:
#if defined(__wasm_simd128__)
      return true;
#else
      return false;
#endif
  }
  return false;
}

KernelIsa kernel_isa() { return active().isa; }

bool set_kernel_isa(KernelIsa isa) {
  if (!kernel_isa_supported(isa)) return false;
  Active& a = active();
  a.isa = isa;
  a.table = build_table(isa);
  return true;
}

const VectorKernels& vector_kernels() { return active().table.vector; }

const TypeKernels& type_kernels(TensorType type) {
  const uint32_t id = uint32_t(type);
  if (id >= 32 || !find_type_info(id)) type_info(type);  // throws the table's message
  return active().table.by_id[id];
}

// Builds without a module get an empty overlay.
#if !((defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__))
void install_avx2_kernels(KernelTable&) {}
void install_avx512_kernels(KernelTable&) {}
#endif
#if !defined(__wasm_simd128__)
void install_simd128_kernels(KernelTable&) {}
#endif

}  // namespace loupe

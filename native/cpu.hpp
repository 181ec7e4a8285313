// Run-time choice of instruction set. The extension is built for each architecture's baseline (no -march);
// on x86-64 a few kernels are compiled a second time for AVX2 + FMA (function target attributes) and chosen here
// when the CPU has them, so one binary runs on any x86-64 and still uses the wider units where they exist.
#pragma once

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__)
#define EF_X86_DISPATCH 1
#else
#define EF_X86_DISPATCH 0
#endif

#include <atomic>

namespace edge_face {

// Tests set this to run the baseline copies on a CPU that has AVX2 (both copies must give the same results).
inline std::atomic<bool>& force_baseline() {
    static std::atomic<bool> flag{false};
    return flag;
}

static inline bool cpu_has_avx2_fma() {
#if EF_X86_DISPATCH
    static const bool yes = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }();
    return yes && !force_baseline().load(std::memory_order_relaxed);
#else
    return false;
#endif
}

// Which copy of the dispatched kernels runs here.
static inline const char* kernel_isa() {
#if defined(__aarch64__)
    return "aarch64";
#else
    return cpu_has_avx2_fma() ? "x86-64+avx2+fma" : "baseline";
#endif
}

}  // namespace edge_face

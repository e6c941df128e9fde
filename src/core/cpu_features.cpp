// cpu_features(): queried once through the compiler's cpuid builtins.
#include "core/cpu_features.h"

#include <cpuid.h>

namespace dcllm {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
    c.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    c.avx512_vnni = c.avx512 && __builtin_cpu_supports("avx512vnni");
    // clang 14 does not know "avxvnni" as a builtin feature name: CPUID leaf 7 sub-leaf 1, EAX
    // bit 4.
    unsigned a = 0, b = 0, cx = 0, d = 0;
    c.avx_vnni = c.avx2 && __get_cpuid_count(7, 1, &a, &b, &cx, &d) && ((a >> 4) & 1);
    return c;
  }();
  return f;
}

}  // namespace dcllm

// cpu_features(): queried once through the compiler's cpuid builtins.
#include "core/cpu_features.h"

namespace dcllm {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
    c.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    c.avx512_vnni = c.avx512 && __builtin_cpu_supports("avx512vnni");
    c.avx_vnni = c.avx2 && __builtin_cpu_supports("avxvnni");
    return c;
  }();
  return f;
}

}  // namespace dcllm

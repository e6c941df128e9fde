// Run-time CPU feature detection, so one binary picks the fastest kernel the machine has.
#pragma once

namespace dcllm {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;  // F + BW + VL + DQ, what our AVX-512 kernels use
  bool avx512_vnni = false;
  bool avx_vnni = false;
};

const CpuFeatures& cpu_features();

}  // namespace dcllm

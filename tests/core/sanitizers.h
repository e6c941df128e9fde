// Test-only: whether this build runs under AddressSanitizer, which reserves terabytes of address
// space, so tests that cap memory with RLIMIT_AS skip the cap there.
#pragma once

namespace dcllm::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace dcllm::testing

#pragma once
// Error reporting shared by every kernel. Errors are thrown as
// std::runtime_error, which the stable ABI turns into a Python RuntimeError
// (and a std::exception for C++ callers) with exactly this text: no file/line
// noise, one sentence naming the cause and the fix.
#include <sstream>
#include <stdexcept>
#include <string>

// The ops namespace comes from pyproject.toml through CMake (-DCUNEB_NS=...).
#ifndef CUNEB_NS
#error "CUNEB_NS (the torch.ops namespace) must be defined by the build"
#endif
#define CUNEB_STR_(x) #x
#define CUNEB_STR(x) CUNEB_STR_(x)
#define CUNEB_NS_STR CUNEB_STR(CUNEB_NS)

namespace cuneb {
template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream oss;
  ((oss << args), ...);
  throw std::runtime_error(oss.str());
}
}  // namespace cuneb

#define CUNEB_CHECK(cond, ...)      \
  do {                              \
    if (!(cond)) {                  \
      ::cuneb::fail(__VA_ARGS__);   \
    }                               \
  } while (0)

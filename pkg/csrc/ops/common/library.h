#pragma once
// Op registration. Every op file uses these macros, never torch's directly:
//
//   EXT_LIBRARY_FRAGMENT(m) { m.def("my_op(Tensor x) -> Tensor"); }      // <op>.cpp
//   EXT_LIBRARY_IMPL(CPU, m) { m.impl("my_op", TORCH_BOX(&...)); }        // cpu/<op>_kernel.cpp
//
// * FRAGMENT, not STABLE_TORCH_LIBRARY: torch allows one DEF block per
//   namespace, and a second one leaves the stable ABI's library handle
//   uninitialised (a segfault at import). Fragments may be many, in any order.
// * The namespace is spelled only in pyproject.toml: the macros expand EXT_NS
//   before torch's pastes it into identifiers.
// * A registration that fails (a schema that does not parse, an op defined
//   twice) does not abort the process from a static initialiser: the error is
//   kept, and the Python loader reads it through ext_registration_errors()
//   and raises ImportError with torch's own message.
#include <torch/csrc/stable/library.h>

#include <string>

#include "args.h"

namespace ops {
// Every registration failure of this library so far, one per line ("" if none).
std::string& registration_errors();

// Like torch's StableTorchLibraryInit, but catches what the block throws.
class CheckedLibraryInit {
  torch::stable::detail::StableLibrary lib_;

 public:
  using InitFn = void(torch::stable::detail::StableLibrary&);
  CheckedLibraryInit(torch::stable::detail::StableLibrary::Kind kind, InitFn* fn, const char* ns,
                     const char* key, const char* file, uint32_t line)
      : lib_(kind, ns, key, file, line) {
    try {
      fn(lib_);
    } catch (const std::exception& e) {
      registration_errors() += std::string(file) + ":" + std::to_string(line) + ": " + e.what() + "\n";
    }
  }
};
}  // namespace ops

#define EXT_UNIQUE_(a, b) a##b
#define EXT_UNIQUE(a, b) EXT_UNIQUE_(a, b)
#define EXT_REGISTER_(kind, ns, key, m, uid)                                                   \
  static void EXT_UNIQUE(ext_library_init_, uid)(torch::stable::detail::StableLibrary&);      \
  static const ::ops::CheckedLibraryInit EXT_UNIQUE(ext_library_static_init_, uid)(           \
      torch::stable::detail::StableLibrary::Kind::kind, &EXT_UNIQUE(ext_library_init_, uid),  \
      EXT_STR(ns), key, __FILE__, __LINE__);                                                   \
  static void EXT_UNIQUE(ext_library_init_, uid)(torch::stable::detail::StableLibrary & m)

#define EXT_LIBRARY_FRAGMENT(m) EXT_REGISTER_(FRAGMENT, EXT_NS, nullptr, m, __COUNTER__)
#define EXT_LIBRARY_IMPL(k, m) EXT_REGISTER_(IMPL, EXT_NS, #k, m, __COUNTER__)

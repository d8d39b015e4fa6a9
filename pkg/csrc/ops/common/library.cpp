// Registration errors, kept for the Python loader (see library.h).
#include "library.h"

namespace ops {
std::string& registration_errors() {
  static std::string errors;  // function-local: safe from any initialiser
  return errors;
}
}  // namespace ops

// The loader's only entry point into the library (dlsym on its own handle,
// so two extensions built from this template never mix theirs up).
extern "C" __attribute__((visibility("default"))) const char* ext_registration_errors() {
  return ops::registration_errors().c_str();
}

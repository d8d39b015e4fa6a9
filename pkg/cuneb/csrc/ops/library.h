#pragma once
// STABLE_TORCH_LIBRARY pastes its namespace argument into identifiers, which
// stops macro expansion; these wrappers expand CUNEB_NS first, so the
// namespace is spelled only in pyproject.toml.
#include <torch/csrc/stable/library.h>

#include "check.h"

#define CUNEB_LIBRARY_(ns, m) STABLE_TORCH_LIBRARY(ns, m)
#define CUNEB_LIBRARY(m) CUNEB_LIBRARY_(CUNEB_NS, m)
#define CUNEB_LIBRARY_IMPL_(ns, k, m) STABLE_TORCH_LIBRARY_IMPL(ns, k, m)
#define CUNEB_LIBRARY_IMPL(k, m) CUNEB_LIBRARY_IMPL_(CUNEB_NS, k, m)

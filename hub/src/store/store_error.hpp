#pragma once
#include <stdexcept>

namespace muster::hub {

// The store cannot be reached or answered with an error.
struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace muster::hub

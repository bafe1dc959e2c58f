#pragma once
// One page of a list: at most `limit` items after the cursor, which is the
// previous page's next_cursor (its meaning is the list's own).
#include <cstddef>
#include <string>

namespace muster::hub {

struct Page {
  std::size_t limit = 100;
  std::string cursor;
};

}  // namespace muster::hub

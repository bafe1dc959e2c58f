# Warnings apply to Muster's own targets only (linked explicitly), never to
# third-party code or global flags.
add_library(muster_warnings INTERFACE)
add_library(muster::warnings ALIAS muster_warnings)
target_compile_options(muster_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wpedantic -Wformat=2
  $<$<BOOL:${MUSTER_WERROR}>:-Werror>)

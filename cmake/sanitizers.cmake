add_library(muster_sanitizers INTERFACE)
add_library(muster::sanitizers ALIAS muster_sanitizers)
if(MUSTER_SANITIZE)
  list(JOIN MUSTER_SANITIZE "," _muster_sanitizers)
  target_compile_options(muster_sanitizers INTERFACE
    -fsanitize=${_muster_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(muster_sanitizers INTERFACE -fsanitize=${_muster_sanitizers})
endif()

# AAMP_SANITIZE applies one sanitizer set to everything built in this tree, so that a
# sanitizer build of the unit tests also instruments the code under test.
if(AAMP_SANITIZE)
  set(_san "-fsanitize=${AAMP_SANITIZE}")
  add_compile_options(${_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(${_san})
endif()
if(AAMP_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "AAMP_FUZZ needs clang (CXX=clang++-14)")
  endif()
  # Instrument everything for coverage; the fuzzer's main is linked into fuzz targets only.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# Warnings every target of ours compiles with. Third-party headers come in as SYSTEM.
add_library(aamp_warnings INTERFACE)
target_compile_options(aamp_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2
  $<$<CXX_COMPILER_ID:GNU>:-Wduplicated-cond -Wlogical-op>)
# -Werror is for our own builds (scripts/test, scripts/run, bench/run and a developer's
# configure pass -DAAMP_WERROR=ON): warnings differ across compiler versions and flags, and a
# packager's plain `cmake` must not be stopped by a warning a newer GCC or -O3 adds.
option(AAMP_WERROR "Treat warnings as errors (CI and development builds)" OFF)
if(AAMP_WERROR)
  target_compile_options(aamp_warnings INTERFACE -Werror)
endif()

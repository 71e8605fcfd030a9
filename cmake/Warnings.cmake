# Warnings every target of ours compiles with. Third-party headers come in as SYSTEM.
add_library(aamp_warnings INTERFACE)
target_compile_options(aamp_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2
  $<$<CXX_COMPILER_ID:GNU>:-Wduplicated-cond -Wlogical-op>)
option(AAMP_WERROR "Treat warnings as errors" ON)
if(AAMP_WERROR)
  target_compile_options(aamp_warnings INTERFACE -Werror)
endif()

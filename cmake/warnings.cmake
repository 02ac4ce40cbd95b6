# afk_warnings: the warning set every afk target compiles with. Linked PRIVATE, never exported.
add_library(afk_warnings INTERFACE)
target_compile_options(afk_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<CONFIG:Debug>:-D_GLIBCXX_ASSERTIONS>
  $<$<BOOL:${AFK_WERROR}>:-Werror>)

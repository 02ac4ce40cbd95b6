include(CMakePackageConfigHelpers)

set(afk_config_dir "${CMAKE_INSTALL_LIBDIR}/cmake/afk")

install(DIRECTORY libafk/include/afk
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT afk_Development)

install(TARGETS afk_afk
  EXPORT afkTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT afk_Development
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT afk_Runtime
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(TARGETS afk_cli
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT afk_Runtime)

# The reference configuration (disarmed), for operators and the Debian package.
install(FILES packaging/afk.toml
  DESTINATION "${CMAKE_INSTALL_DOCDIR}"
  COMPONENT afk_Runtime)

install(EXPORT afkTargets
  NAMESPACE afk::
  DESTINATION "${afk_config_dir}"
  COMPONENT afk_Development)

configure_package_config_file(cmake/afkConfig.cmake.in
  "${PROJECT_BINARY_DIR}/afkConfig.cmake"
  INSTALL_DESTINATION "${afk_config_dir}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/afkConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/afkConfig.cmake"
  "${PROJECT_BINARY_DIR}/afkConfigVersion.cmake"
  DESTINATION "${afk_config_dir}"
  COMPONENT afk_Development)

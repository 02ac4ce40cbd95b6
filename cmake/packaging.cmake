# CPack: a Debian package of the afk CLI (`cpack -G DEB` in a configured build directory;
# scripts/check-deb builds, installs and runs it). Only the afk_Runtime component goes in:
# the `afk` executable and the reference configuration, not the headers or the static
# library. Depends is computed by dpkg-shlibdeps from the executable (needs dpkg-dev and
# file), so it names exactly the runtime libraries afk links, with their minimum versions.
set(CPACK_PACKAGE_NAME "afk")
set(CPACK_PACKAGE_VENDOR "afk")
set(CPACK_PACKAGE_CONTACT "afk maintainers <afk@example.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_INSTALL_DIRECTORY "afk")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)

set(CPACK_GENERATOR "DEB")
set(CPACK_COMPONENTS_ALL afk_Runtime)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)

set(CPACK_DEBIAN_PACKAGE_NAME "afk")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION "devel")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
# The first line of the control file's Description is CPACK_PACKAGE_DESCRIPTION_SUMMARY.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "afk picks tracker issues labelled ready-for-agent, dispatches a coding agent into a
T3 Code server, then watches the pushed commit's CI and Kubernetes rollout, and closes,
escalates, fixes forward or freezes. This package holds the afk command; the reference
configuration is /usr/share/doc/afk/afk.toml (disarmed).")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# TLS needs the CA bundle; libcurl only recommends it.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ca-certificates")

include(CPack)

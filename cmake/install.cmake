# Installs headers, libraries, the CLI and a CMake package so another project can
# find_package(flashcheck) and use the reference, the generators and the
# accuracy rule in its own properties.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(flashcheck_vocabulary PROPERTIES EXPORT_NAME vocabulary)
set_target_properties(flashcheck_reference PROPERTIES EXPORT_NAME reference)
set_target_properties(flashcheck_generators PROPERTIES EXPORT_NAME generators)
install(TARGETS flashcheck_vocabulary flashcheck_reference flashcheck_generators
  EXPORT flashcheckTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS flashcheck RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY reference/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/flashcheck/reference
  FILES_MATCHING PATTERN "*.hpp")
install(FILES cases/generators.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/flashcheck/cases)
install(FILES properties/prop.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/flashcheck/properties)
install(EXPORT flashcheckTargets NAMESPACE flashcheck::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/flashcheck)
configure_package_config_file(cmake/flashcheckConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/flashcheckConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/flashcheck)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/flashcheckConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/flashcheckConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/flashcheckConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/flashcheck)

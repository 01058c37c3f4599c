# Install rules and the CMake package (find_package(est CONFIG)) for est.
#
# est is header-only, so everything lands in arch-independent locations: the headers under
# the include dir and the package files under the data dir, where find_package looks too.
# Only the public targets are exported; est_build_flags (warnings, -march=native, sanitizers
# for est's own programs) must never leak into consumers.

include(CMakePackageConfigHelpers)

set(EST_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/est"
  CACHE STRING "Where est's CMake package files are installed, relative to the prefix")
mark_as_advanced(EST_INSTALL_CMAKEDIR)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/est"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(TARGETS est EXPORT estTargets)
install(EXPORT estTargets
  NAMESPACE est::
  DESTINATION "${EST_INSTALL_CMAKEDIR}")
# The CUDA target has its own export file, loaded only for find_package(est COMPONENTS cuda),
# so that CPU-only consumers of an install made on a machine with nvcc never need CUDA.
set(EST_CONFIG_WITH_CUDA OFF)
if(TARGET est_cuda)
  set_target_properties(est_cuda PROPERTIES EXPORT_NAME cuda)
  install(TARGETS est_cuda EXPORT estCudaTargets)
  install(EXPORT estCudaTargets
    NAMESPACE est::
    DESTINATION "${EST_INSTALL_CMAKEDIR}")
  set(EST_CONFIG_WITH_CUDA ON)
endif()

# The exported est target links OpenMP::OpenMP_CXX only when OpenMP was found here, so the
# config file must look for OpenMP exactly in that case (and must not demand it otherwise).
if(OpenMP_CXX_FOUND)
  set(EST_CONFIG_WITH_OPENMP ON)
else()
  set(EST_CONFIG_WITH_OPENMP OFF)
endif()

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/estConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/estConfig.cmake"
  INSTALL_DESTINATION "${EST_INSTALL_CMAKEDIR}")

# ARCH_INDEPENDENT: a header-only package fits any consumer, 32- or 64-bit.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/estConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)

install(FILES
  "${PROJECT_BINARY_DIR}/estConfig.cmake"
  "${PROJECT_BINARY_DIR}/estConfigVersion.cmake"
  DESTINATION "${EST_INSTALL_CMAKEDIR}")


# make install: bin/hesse, libhesse.so.* and libhesse.a, include/hesse/*.h, lib/pkgconfig/hesse.pc,
# lib/cmake/hesse/ (imported target hesse::hesse), share/man/man1/hesse*.1. The prefix is the
# one given at install time (cmake --install --prefix P, make install PREFIX=P), so an already
# built tree installs anywhere; DESTDIR is honoured. make uninstall removes what the last
# install wrote (install_manifest.txt).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Man pages, made from `hesse --help` and `hesse COMMAND --help` whenever the tool is rebuilt,
# so they say what the tool says (tests/install/install.sh compares them).
set(HESSE_MAN_DIR ${CMAKE_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${HESSE_MAN_DIR}/hesse.1
  COMMAND sh ${CMAKE_SOURCE_DIR}/cmake/man.sh $<TARGET_FILE:hesse_cli> ${HESSE_MAN_DIR}
  DEPENDS hesse_cli ${CMAKE_SOURCE_DIR}/cmake/man.sh
  COMMENT "Writing the man pages from hesse --help")
add_custom_target(hesse_man ALL DEPENDS ${HESSE_MAN_DIR}/hesse.1)

install(TARGETS hesse_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS hesse_shared EXPORT hesseTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS hesse ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/hesse DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${HESSE_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        FILES_MATCHING PATTERN "*.1")

# CMake: find_package(hesse) + target_link_libraries(app hesse::hesse). Relocatable.
set(HESSE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hesse)
install(EXPORT hesseTargets NAMESPACE hesse:: DESTINATION ${HESSE_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/hesseConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/cmake/hesseConfig.cmake
                              INSTALL_DESTINATION ${HESSE_CMAKE_DIR})
# 0.x: a minor version may break the interface, so only the same minor version is compatible.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/hesseConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/hesseConfig.cmake
              ${CMAKE_BINARY_DIR}/cmake/hesseConfigVersion.cmake
        DESTINATION ${HESSE_CMAKE_DIR})

# pkg-config. Everything but the prefix is filled in now; the prefix at install time.
set(HESSE_PC_LIBS_PRIVATE "-pthread")
if(M_LIB)
  string(APPEND HESSE_PC_LIBS_PRIVATE " -lm")
endif()
if(HESSE_WITH_MPI)
  foreach(lib IN LISTS MPI_C_LIBRARIES)
    string(APPEND HESSE_PC_LIBS_PRIVATE " ${lib}")
  endforeach()
endif()
set(HESSE_PC_PREFIX "@CMAKE_INSTALL_PREFIX@") # left for the install step to fill in
configure_file(${CMAKE_SOURCE_DIR}/cmake/hesse.pc.in ${CMAKE_BINARY_DIR}/cmake/hesse.pc.in @ONLY)
install(CODE "
  configure_file(\"${CMAKE_BINARY_DIR}/cmake/hesse.pc.in\" \"${CMAKE_BINARY_DIR}/cmake/pc/hesse.pc\" @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
       TYPE FILE FILES \"${CMAKE_BINARY_DIR}/cmake/pc/hesse.pc\")")

# make uninstall (also the `uninstall` target here): every file install_manifest.txt lists.
add_custom_target(uninstall
  COMMAND ${CMAKE_COMMAND} -DMANIFEST=${CMAKE_BINARY_DIR}/install_manifest.txt
          -P ${CMAKE_SOURCE_DIR}/cmake/uninstall.cmake)

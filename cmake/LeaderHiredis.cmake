# SPDX-License-Identifier: BSD-3-Clause
# cmake/LeaderHiredis.cmake - how libleader gets hiredis: linked to an
# installed hiredis >= 1.0, or embedded.
#
# Included from the top-level CMakeLists.txt right after
# pkg_check_modules(HIREDIS ... IMPORTED_TARGET hiredis>=1.0) has found a
# hiredis. LEADER_HIREDIS (a cache string) says what to do with it:
#
#   system  link to it like any installed library: libleader.so gets a
#           NEEDED entry for libhiredis, and libleader.pc and the CMake
#           package require hiredis for static linking.
#   embed   link its static archive (libhiredis.a, position-independent
#           code) into libleader.so, libleader.a and the leader command,
#           with its symbols hidden (libleader exports leader_* only), so
#           nothing installed refers to hiredis' files. This is for a
#           hiredis that will not be there after the install: the one
#           scripts/bootstrap builds into .deps/ on Debian 12, whose own
#           hiredis (0.14) is too old.
#   auto    (the default) embed if the hiredis found is the one in this
#           tree's .deps/prefix, else system.
#
# hiredis_ssl (PkgConfig::HIREDIS_SSL, found beside it) goes the same way.
# In embed mode the imported targets PkgConfig::HIREDIS and
# PkgConfig::HIREDIS_SSL are pointed at the static archives, so every target of the build (library, CLI, tests) links
# the same code and nothing built here has a RUNPATH into .deps/.
#
# Sets:
#   LEADER_HIREDIS_EMBEDDED       ON or OFF
#   LEADER_EMBEDDED_ARCHIVES      the archives libleader.a must absorb
#   LEADER_PKG_REQUIRES_PRIVATE   appends hiredis' pkg-config modules
#                                 (system mode), for libleader.pc and the
#                                 package

set(LEADER_HIREDIS auto CACHE STRING
  "hiredis: system (link the installed one), embed (link its static archive into libleader, symbols hidden) or auto (embed only the one scripts/bootstrap builds in .deps/)")
set_property(CACHE LEADER_HIREDIS PROPERTY STRINGS auto system embed)

if(NOT TARGET PkgConfig::HIREDIS OR NOT TARGET PkgConfig::HIREDIS_SSL)
  message(FATAL_ERROR "LeaderHiredis.cmake: include it after "
    "pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis>=1.0) and "
    "the same for HIREDIS_SSL (hiredis_ssl)")
endif()

set(leader_hiredis_mode ${LEADER_HIREDIS})
if(leader_hiredis_mode STREQUAL "auto")
  # Compare real paths: .deps may be a symbolic link, and its .pc files may
  # name the prefix through another path to the same directory.
  file(REAL_PATH "${HIREDIS_PREFIX}" leader_found_prefix)
  file(REAL_PATH "${PROJECT_SOURCE_DIR}/.deps/prefix" leader_deps_prefix)
  if(leader_found_prefix STREQUAL leader_deps_prefix)
    set(leader_hiredis_mode embed)
  else()
    set(leader_hiredis_mode system)
  endif()
elseif(NOT leader_hiredis_mode MATCHES "^(system|embed)$")
  message(FATAL_ERROR
    "LEADER_HIREDIS is \"${LEADER_HIREDIS}\": use auto, system or embed")
endif()

set(LEADER_EMBEDDED_ARCHIVES)
if(leader_hiredis_mode STREQUAL "embed")
  set(LEADER_HIREDIS_ARCHIVE)
  foreach(dir IN LISTS HIREDIS_LIBRARY_DIRS)
    if(NOT LEADER_HIREDIS_ARCHIVE AND EXISTS "${dir}/libhiredis.a")
      file(REAL_PATH "${dir}/libhiredis.a" LEADER_HIREDIS_ARCHIVE)
    endif()
  endforeach()
  if(NOT LEADER_HIREDIS_ARCHIVE)
    message(FATAL_ERROR "LEADER_HIREDIS=embed: no libhiredis.a in "
      "${HIREDIS_LIBRARY_DIRS} (hiredis ${HIREDIS_VERSION} at "
      "${HIREDIS_PREFIX})")
  endif()
  set(LEADER_HIREDIS_SSL_ARCHIVE)
  foreach(dir IN LISTS HIREDIS_SSL_LIBRARY_DIRS HIREDIS_LIBRARY_DIRS)
    if(NOT LEADER_HIREDIS_SSL_ARCHIVE AND EXISTS "${dir}/libhiredis_ssl.a")
      file(REAL_PATH "${dir}/libhiredis_ssl.a" LEADER_HIREDIS_SSL_ARCHIVE)
    endif()
  endforeach()
  if(NOT LEADER_HIREDIS_SSL_ARCHIVE)
    message(FATAL_ERROR "LEADER_HIREDIS=embed: no libhiredis_ssl.a in "
      "${HIREDIS_SSL_LIBRARY_DIRS}")
  endif()
  set_property(TARGET PkgConfig::HIREDIS
    PROPERTY INTERFACE_LINK_LIBRARIES "${LEADER_HIREDIS_ARCHIVE}")
  # hiredis_ssl calls into hiredis: its archive first.
  set_property(TARGET PkgConfig::HIREDIS_SSL
    PROPERTY INTERFACE_LINK_LIBRARIES "${LEADER_HIREDIS_SSL_ARCHIVE}")
  set(LEADER_EMBEDDED_ARCHIVES "${LEADER_HIREDIS_SSL_ARCHIVE}"
    "${LEADER_HIREDIS_ARCHIVE}")
  set(LEADER_HIREDIS_EMBEDDED ON)
  message(STATUS "hiredis ${HIREDIS_VERSION}: embedded from "
    "${LEADER_HIREDIS_ARCHIVE}")
else()
  list(APPEND LEADER_PKG_REQUIRES_PRIVATE "hiredis>=1.0" "hiredis_ssl>=1.0")
  set(LEADER_HIREDIS_EMBEDDED OFF)
  message(STATUS "hiredis ${HIREDIS_VERSION}: linked from ${HIREDIS_PREFIX}")
endif()

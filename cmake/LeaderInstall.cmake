# SPDX-License-Identifier: BSD-3-Clause
# cmake/LeaderInstall.cmake - what the rest of the world sees of the build:
# the libleader:: aliases, the static library made self-contained, and the
# install rules (library, header, CLI, man pages, libleader.pc, the CMake
# package, docs) with an uninstall target.
#
# Included from the top-level CMakeLists.txt once the library targets
# (leader_shared, leader_static) and the CLI (leader) are defined.
#
# Installed layout, under the prefix (GNUInstallDirs):
#   lib/libleader.so.X.Y.Z, libleader.so.X, libleader.so, libleader.a
#   lib/pkgconfig/libleader.pc
#   lib/cmake/libleader/libleaderConfig.cmake, libleaderConfigVersion.cmake
#   include/leader.h
#   bin/leader
#   share/man/man1/leader.1, share/man/man3/*.3
#   share/doc/libleader/  README, CHANGELOG, LICENSE, docs/, examples/
#
# Nothing installed has a RUNPATH: CMake drops the build tree's on install
# (CMAKE_INSTALL_RPATH is empty), and with an embedded hiredis there is no
# path to ask for.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(LEADER_INSTALL_DOCS
  "Install README, CHANGELOG, LICENSE, docs/ and examples/ into the doc dir" ON)

# The names a consumer uses, the same as the installed package's, so that
# add_subdirectory() and find_package() read alike.
add_library(libleader::leader ALIAS leader_shared)
add_library(libleader::leader_static ALIAS leader_static)

# --- hiding what libleader carries inside -------------------------------------

# libleader.so exports leader_* only: its own internals are hidden by
# -fvisibility=hidden, and an embedded hiredis by --exclude-libs (its objects
# come from an archive built with default visibility).
set(leader_embedded_names)
foreach(archive IN LISTS LEADER_EMBEDDED_ARCHIVES)
  get_filename_component(name "${archive}" NAME)
  list(APPEND leader_embedded_names "${name}")
endforeach()
if(leader_embedded_names)
  string(REPLACE ";" ":" leader_exclude "${leader_embedded_names}")
  target_link_options(leader_shared PRIVATE
    "LINKER:--exclude-libs,${leader_exclude}")
endif()

# libleader.a becomes one relocatable object: the library's objects and the
# embedded archives linked together (ld -r), every global symbol but
# leader_* made local (objcopy). So a static consumer needs no hiredis of
# its own when hiredis is embedded, sees none of the library's internal
# names, and may link another hiredis beside it. See LeaderPrelink.cmake.
string(REPLACE ";" "|" leader_embed_arg "${LEADER_EMBEDDED_ARCHIVES}")
add_custom_command(TARGET leader_static POST_BUILD
  COMMAND ${CMAKE_COMMAND}
    -DARCHIVE=$<TARGET_FILE:leader_static>
    -DEMBED=${leader_embed_arg}
    -DLD=${CMAKE_LINKER}
    -DOBJCOPY=${CMAKE_OBJCOPY}
    -DAR=${CMAKE_AR}
    -P ${CMAKE_CURRENT_LIST_DIR}/LeaderPrelink.cmake
  COMMENT "Prelinking libleader.a (exports: leader_*)"
  VERBATIM)

# --- section 3 man pages: one page per group, one link per function -----------

# Each page's NAME section lists the functions it documents; every name but
# the page's own gets a symbolic link to the page (install() keeps links).
file(GLOB leader_man3_pages CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/docs/man3/*.3)
set(leader_man3_dir ${PROJECT_BINARY_DIR}/man3)
file(REMOVE_RECURSE ${leader_man3_dir})
file(MAKE_DIRECTORY ${leader_man3_dir})
set(leader_man3_links)
foreach(page IN LISTS leader_man3_pages)
  get_filename_component(page_name "${page}" NAME_WE)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${page}")
  file(READ "${page}" text)
  # The names: from ".SH NAME" to the "\-" before the description.
  if(NOT text MATCHES "\n\\.SH NAME\n([^\\\\]*)\\\\-")
    message(FATAL_ERROR "${page}: no NAME section ending in \"\\-\"")
  endif()
  string(REGEX REPLACE "[ \n]+" "" names "${CMAKE_MATCH_1}")
  string(REPLACE "," ";" names "${names}")
  foreach(name IN LISTS names)
    string(STRIP "${name}" name)
    if(name AND NOT name STREQUAL page_name)
      file(CREATE_LINK ${page_name}.3 ${leader_man3_dir}/${name}.3 SYMBOLIC)
      list(APPEND leader_man3_links ${leader_man3_dir}/${name}.3)
    endif()
  endforeach()
endforeach()

# --- libleader.pc -------------------------------------------------------------

# Requires.private, Libs.private: the library's dependencies, from
# LEADER_PKG_REQUIRES_PRIVATE ("name>=version" items) and
# LEADER_PKG_LIBS_PRIVATE (linker flags). A static link needs them; a
# shared one does not.
set(leader_pc_requires)
foreach(req IN LISTS LEADER_PKG_REQUIRES_PRIVATE)
  string(REGEX REPLACE "([<>=]+)" " \\1 " req "${req}")
  list(APPEND leader_pc_requires "${req}")
endforeach()
string(REPLACE ";" ", " LEADER_PC_REQUIRES_PRIVATE "${leader_pc_requires}")
string(REPLACE ";" " " LEADER_PC_LIBS_PRIVATE "${LEADER_PKG_LIBS_PRIVATE}")

# The .pc file names the prefix, which `cmake --install --prefix P` may
# change after configuring: it is written at install time.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(leader_pc_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(leader_pc_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(leader_pc_dest "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
else()
  set(leader_pc_dest "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()

# --- the CMake package --------------------------------------------------------

set(LEADER_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/libleader)
set(LEADER_SHARED_FILE
  ${CMAKE_SHARED_LIBRARY_PREFIX}leader${CMAKE_SHARED_LIBRARY_SUFFIX}.${PROJECT_VERSION})
set(LEADER_SHARED_SONAME
  ${CMAKE_SHARED_LIBRARY_PREFIX}leader${CMAKE_SHARED_LIBRARY_SUFFIX}.${PROJECT_VERSION_MAJOR})
set(LEADER_STATIC_FILE
  ${CMAKE_STATIC_LIBRARY_PREFIX}leader${CMAKE_STATIC_LIBRARY_SUFFIX})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/libleaderConfig.cmake.in
  ${PROJECT_BINARY_DIR}/package/libleaderConfig.cmake
  INSTALL_DESTINATION ${LEADER_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x: only the same minor version counts as compatible (semantic
# versioning lets a 0.x minor release change the API).
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/package/libleaderConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)

# --- install and uninstall ----------------------------------------------------

# leader_hiredis_notice(FILE): writes the copyright notices of every header
# of the hiredis found and the license text of hiredis.h (its first comment
# block, from "All rights reserved.") to FILE.
function(leader_hiredis_notice out)
  set(dir)
  foreach(inc IN LISTS HIREDIS_INCLUDE_DIRS)
    if(NOT dir AND EXISTS "${inc}/hiredis.h")
      set(dir "${inc}")
    endif()
  endforeach()
  if(NOT dir)
    message(FATAL_ERROR "no hiredis.h in ${HIREDIS_INCLUDE_DIRS}")
  endif()
  file(GLOB headers "${dir}/*.h")
  set(holders)
  foreach(h IN LISTS headers)
    # "Copyright ..." lines, and the names continuing them.
    file(STRINGS "${h}" lines
      REGEX "^ \\* +(Copyright|[A-Z][^<]*<[^>]* at [^>]*>)")
    list(APPEND holders ${lines})
  endforeach()
  list(REMOVE_DUPLICATES holders)
  file(READ "${dir}/hiredis.h" text)
  string(FIND "${text}" "*/" end)
  string(SUBSTRING "${text}" 0 ${end} text)
  string(FIND "${text}" "All rights reserved." start)
  string(SUBSTRING "${text}" ${start} -1 text)
  string(REGEX REPLACE "\n \\*[ ]?" "\n" text "${text}")
  string(REGEX REPLACE "\n \\*[ ]?" "\n" holders_text "\n${holders}")
  string(REPLACE ";" "\n" holders_text "${holders_text}")
  string(REGEX REPLACE "\n \\*[ ]?" "\n" holders_text "${holders_text}")
  file(WRITE "${out}" "libleader's binaries built with hiredis embedded \
(LEADER_HIREDIS=embed)\ncontain hiredis ${HIREDIS_VERSION}, \
distributed under this license:\n${holders_text}\n\n${text}")
endfunction()

if(LEADER_INSTALL)
  install(TARGETS leader_shared
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(TARGETS leader_static
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/leader.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  if(TARGET leader)
    install(TARGETS leader RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    install(FILES ${PROJECT_SOURCE_DIR}/docs/leader.1
      DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  endif()
  install(FILES ${leader_man3_pages} ${leader_man3_links}
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)

  # (In a directory of its own: installs may run at the same time.)
  install(CODE "
    set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
    set(LEADER_PC_LIBDIR [==[${leader_pc_LIBDIR}]==])
    set(LEADER_PC_INCLUDEDIR [==[${leader_pc_INCLUDEDIR}]==])
    set(PROJECT_VERSION [==[${PROJECT_VERSION}]==])
    set(LEADER_PC_REQUIRES_PRIVATE [==[${LEADER_PC_REQUIRES_PRIVATE}]==])
    set(LEADER_PC_LIBS_PRIVATE [==[${LEADER_PC_LIBS_PRIVATE}]==])
    string(RANDOM LENGTH 12 pc_tmp)
    set(pc_tmp \"${PROJECT_BINARY_DIR}/package/pc-\${pc_tmp}\")
    configure_file([==[${CMAKE_CURRENT_LIST_DIR}/libleader.pc.in]==]
      \${pc_tmp}/libleader.pc @ONLY)
    file(INSTALL DESTINATION \"${leader_pc_dest}\" TYPE FILE
      FILES \${pc_tmp}/libleader.pc)
    file(REMOVE_RECURSE \${pc_tmp})
  ")

  install(FILES
    ${PROJECT_BINARY_DIR}/package/libleaderConfig.cmake
    ${PROJECT_BINARY_DIR}/package/libleaderConfigVersion.cmake
    DESTINATION ${LEADER_CMAKE_DIR})

  if(LEADER_INSTALL_DOCS)
    # The source tree's layout, so that README's links keep working.
    install(FILES ${PROJECT_SOURCE_DIR}/README.md
      ${PROJECT_SOURCE_DIR}/CHANGELOG.md ${PROJECT_SOURCE_DIR}/LICENSE
      DESTINATION ${CMAKE_INSTALL_DOCDIR})
    file(GLOB leader_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
    install(FILES ${leader_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
    file(GLOB leader_doc_images CONFIGURE_DEPENDS
      ${PROJECT_SOURCE_DIR}/docs/bench/*.png)
    install(FILES ${leader_doc_images}
      DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs/bench)
    file(GLOB leader_examples CONFIGURE_DEPENDS
      ${PROJECT_SOURCE_DIR}/examples/*.c)
    install(FILES ${leader_examples}
      DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
    # An embedded hiredis is redistributed in binary form: its license and
    # copyright notices go with it, taken from its installed headers.
    if(LEADER_HIREDIS_EMBEDDED)
      leader_hiredis_notice(${PROJECT_BINARY_DIR}/package/LICENSE.hiredis)
      install(FILES ${PROJECT_BINARY_DIR}/package/LICENSE.hiredis
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
    endif()
  endif()

  # `cmake --build BUILD --target uninstall` removes what `cmake --install`
  # puts under $DESTDIR + the configured prefix (the front Makefile's
  # `make uninstall` passes its PREFIX instead).
  add_custom_target(uninstall
    COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR}
      -DPREFIX=${CMAKE_INSTALL_PREFIX}
      -P ${CMAKE_CURRENT_LIST_DIR}/LeaderUninstall.cmake
    VERBATIM)
endif()

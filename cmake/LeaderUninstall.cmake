# SPDX-License-Identifier: BSD-3-Clause
# cmake/LeaderUninstall.cmake - removes what `cmake --install` of a build
# tree puts under $DESTDIR + PREFIX:
#
#   DESTDIR=... cmake -DBUILD_DIR=build -DPREFIX=/usr/local
#       -P cmake/LeaderUninstall.cmake
#
# It installs the build tree into a scratch directory first, so it knows
# exactly which files an install with that prefix writes (whether or not
# this build tree made the install, and with no manifest to keep), then
# removes those files under $DESTDIR + PREFIX, and then the directories that
# are libleader's own (those with "libleader" in their name) once empty.
# Shared directories (lib/, share/man/man3/, ...) are left in place.

foreach(var BUILD_DIR PREFIX)
  if(NOT ${var})
    message(FATAL_ERROR "LeaderUninstall.cmake: ${var} is not set")
  endif()
endforeach()

set(stage "${BUILD_DIR}/uninstall-stage")
file(REMOVE_RECURSE "${stage}")
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env "DESTDIR=${stage}"
    ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}"
  OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "uninstall: cannot list the installed files:\n${out}")
endif()

set(root "$ENV{DESTDIR}")
set(staged "${stage}${PREFIX}")
file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${staged}"
  "${staged}/*")
set(removed 0)
foreach(rel IN LISTS files)
  set(path "${root}${PREFIX}/${rel}")
  if(EXISTS "${path}" OR IS_SYMLINK "${path}")
    message(STATUS "Removing: ${path}")
    file(REMOVE "${path}")
    math(EXPR removed "${removed} + 1")
  endif()
endforeach()

# libleader's own directories, deepest first.
file(GLOB_RECURSE dirs LIST_DIRECTORIES true RELATIVE "${staged}"
  "${staged}/*")
list(SORT dirs ORDER DESCENDING)
foreach(rel IN LISTS dirs)
  set(path "${root}${PREFIX}/${rel}")
  if(IS_DIRECTORY "${staged}/${rel}" AND rel MATCHES "libleader"
      AND IS_DIRECTORY "${path}")
    file(GLOB left "${path}/*")
    if(NOT left)
      message(STATUS "Removing: ${path}/")
      file(REMOVE_RECURSE "${path}")
    endif()
  endif()
endforeach()
file(REMOVE_RECURSE "${stage}")
message(STATUS "Uninstalled ${removed} files from ${root}${PREFIX}")

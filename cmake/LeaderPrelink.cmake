# SPDX-License-Identifier: BSD-3-Clause
# cmake/LeaderPrelink.cmake - makes libleader.a one relocatable object that
# exports leader_* only. Run as a POST_BUILD step of leader_static:
#
#   cmake -DARCHIVE=libleader.a -DEMBED="a.a|b.a" -DLD=ld -DOBJCOPY=objcopy
#         -DAR=ar -P LeaderPrelink.cmake
#
# 1. ld -r links every object of ARCHIVE and of the EMBED archives (the
#    static hiredis when it is embedded) into one object, libleader.o, so
#    the library's references to hiredis are resolved inside it;
# 2. objcopy makes every global symbol of that object local except the
#    default-visibility leader_* ones (the API): the library's internal
#    names (hidden visibility) and the embedded hiredis' names can then
#    clash with nothing in the program;
# 3. ARCHIVE is replaced by an archive of that one object.
# Undefined symbols (libc, pthreads, an installed hiredis) stay undefined,
# for the consumer's link to resolve.

foreach(var ARCHIVE LD OBJCOPY AR)
  if(NOT ${var})
    message(FATAL_ERROR "LeaderPrelink.cmake: ${var} is not set")
  endif()
endforeach()
string(REPLACE "|" ";" embed "${EMBED}")

set(work "${ARCHIVE}.prelink")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "LeaderPrelink.cmake: failed (${rc}): ${ARGN}")
  endif()
endfunction()

run(${LD} -r -o "${work}/libleader.o"
  --whole-archive "${ARCHIVE}" ${embed} --no-whole-archive)
run(${OBJCOPY} --localize-hidden --wildcard "--keep-global-symbol=leader_*"
  "${work}/libleader.o")
run(${AR} rcs "${work}/libleader.a" "${work}/libleader.o")
file(RENAME "${work}/libleader.a" "${ARCHIVE}")
file(REMOVE_RECURSE "${work}")

# `flashcheck check` exit codes, end to end (ctest: check_cli_exit_codes).
# 0 all pass; 1 a case failed (a required output missing included); 2 bad
# input or nothing tested. Run with -DFLASHCHECK=... -DSCRATCH=...
file(REMOVE_RECURSE ${SCRATCH})
include(${CMAKE_CURRENT_LIST_DIR}/fc.cmake)

set(S ${SCRATCH}/suite)
fc(0 check gen --out ${S} --seed 7 --count 3 --max-seqlen 40)
fc(2 check gen --out ${S} --seed 8 --count 2 --max-seqlen 40)   # not empty
fc(0 check gen --out ${S} --seed 8 --count 2 --max-seqlen 40 --force)
if(EXISTS ${S}/case_002)
  message(FATAL_ERROR "gen --force left a stale case_002")
endif()
foreach(c case_000 case_001)
  file(WRITE ${S}/${c}/skip.txt "declined\n")
endforeach()
fc(2 check verify ${S})                                          # nothing tested
foreach(c case_000 case_001)
  file(REMOVE ${S}/${c}/skip.txt)
  file(COPY ${S}/${c}/baseline/o.npy DESTINATION ${S}/${c})
endforeach()
fc(1 check verify ${S})                                          # lse, dq, dk, dv missing
fc(0 check verify ${S} --outputs o)
if(NOT OUT MATCHES "not checked: lse dq dk dv")
  message(FATAL_ERROR "narrowed summary does not say what went unchecked:\n${OUT}")
endif()
foreach(c case_000 case_001)
  file(GLOB files ${S}/${c}/baseline/*.npy)
  file(COPY ${files} DESTINATION ${S}/${c})
endforeach()
fc(0 check verify ${S} --format json --junit ${SCRATCH}/junit.xml --tile 16x16)
if(NOT OUT MATCHES "\"status\": \"pass\"" OR NOT EXISTS ${SCRATCH}/junit.xml)
  message(FATAL_ERROR "json / junit report missing:\n${OUT}")
endif()
file(WRITE ${S}/case_001/dv.npy "not numpy")
fc(2 check verify ${S})                                          # a bad file: exit 2, the other case judged
if(NOT OUT MATCHES "case_000  dv   pass" OR NOT OUT MATCHES "case_001  ERROR")
  message(FATAL_ERROR "a bad file should fail only its case:\n${OUT}")
endif()
fc(2 check verify ${S} --tile 16)
file(REMOVE_RECURSE ${SCRATCH})

# `flashcheck check gen --variants` / `check verify` end to end (ctest:
# check_cli_variants): the baseline as a candidate passes; a missing dbias
# fails (exit 1); a missing, misshapen or inconsistent extra file is one
# ERROR line naming the file and the field (exit 2). Run with
# -DFLASHCHECK=... -DSCRATCH=...
file(REMOVE_RECURSE ${SCRATCH})
include(${CMAKE_CURRENT_LIST_DIR}/fc.cmake)
function(expect pattern why)
  if(NOT OUT MATCHES "${pattern}")
    message(FATAL_ERROR "${why}: no match for '${pattern}' in\n${OUT}")
  endif()
endfunction()

set(S ${SCRATCH}/suite)
fc(2 check gen --out ${S} --variants softcap,nonsense)
expect("unknown variant 'nonsense'" "a bad --variants name")
# Cases 0..7: softcap alibi varlen paged sinks dropout mask bias.
fc(0 check gen --out ${S} --seed 3 --count 8 --max-seqlen 40 --variants all)
foreach(f case_001/alibi.npy case_002/cu_seqlens_q.npy case_003/block_table.npy case_004/sinks.npy
          case_005/keep.npy case_006/mask.npy case_007/bias.npy)
  if(NOT EXISTS ${S}/${f})
    message(FATAL_ERROR "check gen --variants all did not write ${f}")
  endif()
endforeach()
file(GLOB cases ${S}/case_*)
foreach(c ${cases})
  file(GLOB files ${c}/baseline/*.npy)
  file(COPY ${files} DESTINATION ${c})
endforeach()
fc(0 check verify ${S})
expect("case_007  dbias pass" "dbias judged")
expect("case_004  dsinks pass" "dsinks judged")
expect("8 passed, 0 failed" "every variant case passes with the baseline as candidate")

file(REMOVE ${S}/case_007/dbias.npy)
fc(1 check verify ${S})
expect("case_007  dbias MISSING" "a missing dbias")
file(COPY ${S}/case_007/baseline/dbias.npy DESTINATION ${S}/case_007)

file(RENAME ${S}/case_001/alibi.npy ${S}/alibi.bak)
fc(2 check verify ${S})
expect("case_001  ERROR: [^\n]*alibi.npy[^\n]*extras.alibi_slopes" "a missing extra file names file and field")
file(RENAME ${S}/alibi.bak ${S}/case_001/alibi.npy)

file(COPY ${S}/case_004/sinks.npy DESTINATION ${SCRATCH})
file(COPY ${S}/case_002/cu_seqlens_k.npy DESTINATION ${SCRATCH})
file(COPY ${S}/case_003/block_table.npy DESTINATION ${SCRATCH})
file(COPY ${S}/case_001/alibi.npy DESTINATION ${SCRATCH})
file(COPY ${SCRATCH}/cu_seqlens_k.npy DESTINATION ${S}/case_003)  # a wrong-shape block table
file(RENAME ${S}/case_003/cu_seqlens_k.npy ${S}/case_003/block_table.npy)
file(COPY ${SCRATCH}/alibi.npy DESTINATION ${S}/case_004)          # sinks' file from the wrong case
file(READ ${S}/case_004/problem.json pj)
string(REPLACE "\"sinks\": \"sinks.npy\"" "\"sinks\": \"sinks.npy\", \"bias\": \"alibi.npy\"" pj "${pj}")
file(WRITE ${S}/case_004/problem.json "${pj}")
fc(2 check verify ${S})
expect("case_003  ERROR: [^\n]*block_table.npy \\(extras.block_table\\): shape" "a misshapen block table")
expect("case_004  ERROR: [^\n]*'extras.bias'[^\n]*variants.bias is off" "an extra named for a variant that is off")
file(REMOVE_RECURSE ${SCRATCH})

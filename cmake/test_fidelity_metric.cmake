# ctest -P script: the fidelity report must refuse ncu CSVs that lack the crossbar-to-SM
# read bytes (judging SM-side reads on the L2 slice counter misses up to half of them).
# Needs -DFLASHCHECK, -DSOURCE_DIR, -DSCRATCH.
file(REMOVE_RECURSE ${SCRATCH})
file(COPY ${SOURCE_DIR}/reports/gpu ${SOURCE_DIR}/reports/fidelity DESTINATION ${SCRATCH}/in)
file(STRINGS ${SCRATCH}/in/fidelity/ncu_sdpa.csv lines)
set(kept "")
foreach(l IN LISTS lines)
  if(NOT l MATCHES "l1tex__m_xbar2l1tex_read_bytes")
    string(APPEND kept "${l}\n")
  endif()
endforeach()
file(WRITE ${SCRATCH}/in/fidelity/ncu_sdpa.csv "${kept}")
execute_process(COMMAND ${FLASHCHECK} report --out ${SCRATCH}/out --no-plots --gpu-dir ${SCRATCH}/in/gpu
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0 OR NOT out MATCHES "lacks l1tex__m_xbar2l1tex_read_bytes")
  message(FATAL_ERROR "report accepted ncu CSVs without the crossbar metric (rc ${rc}):\n${out}")
endif()
message(STATUS "refused as it should: ${out}")
file(REMOVE_RECURSE ${SCRATCH})

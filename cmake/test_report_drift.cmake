# ctest -P script: regenerates the reports into a scratch folder (no plots) and
# fails when any generated Markdown, CSV or gnuplot file differs from the
# committed one under reports/. Needs -DFLASHCHECK, -DSOURCE_DIR, -DSCRATCH.
file(REMOVE_RECURSE ${SCRATCH})
execute_process(COMMAND ${FLASHCHECK} report --out ${SCRATCH} --no-plots
  --gpu-dir ${SOURCE_DIR}/reports/gpu
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "flashcheck report failed (${rc}):\n${out}")
endif()
file(GLOB_RECURSE generated RELATIVE ${SCRATCH} ${SCRATCH}/*.md ${SCRATCH}/*.csv ${SCRATCH}/*.gp)
set(drift "")
foreach(f ${generated})
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${SCRATCH}/${f} ${SOURCE_DIR}/reports/${f}
    RESULT_VARIABLE differs)
  if(differs)
    list(APPEND drift ${f})
  endif()
endforeach()
list(LENGTH generated n)
if(drift)
  message(FATAL_ERROR "reports drifted from the code (regenerate with `flashcheck report` and commit): ${drift}")
endif()
message(STATUS "${n} report files match the committed ones")
file(REMOVE_RECURSE ${SCRATCH})

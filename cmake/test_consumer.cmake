# ctest -P script: installs the build tree into a scratch prefix, then
# configures, builds and runs examples/consumer against that installed package.
# Needs -DBUILD_DIR, -DSOURCE_DIR, -DSCRATCH.
file(REMOVE_RECURSE ${SCRATCH})
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD_DIR};--prefix;${SCRATCH}/prefix"
    "${CMAKE_COMMAND};-S;${SOURCE_DIR}/examples/consumer;-B;${SCRATCH}/build;-DCMAKE_PREFIX_PATH=${SCRATCH}/prefix;-DCMAKE_BUILD_TYPE=Release"
    "${CMAKE_COMMAND};--build;${SCRATCH}/build"
    "${SCRATCH}/build/consumer")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${step}\n${out}")
  endif()
endforeach()
message(STATUS "consumer built against the installed package and passed:\n${out}")
file(REMOVE_RECURSE ${SCRATCH})

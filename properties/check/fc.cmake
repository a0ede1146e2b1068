# fc(expect_rc args...): runs ${FLASHCHECK} args, fails unless it exits with
# expect_rc; its stdout and stderr are left in OUT. For the cli_*.cmake tests.
function(fc expect_rc)
  execute_process(COMMAND ${FLASHCHECK} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL expect_rc)
    message(FATAL_ERROR "flashcheck ${ARGN}: exit ${rc}, expected ${expect_rc}\n${out}\n${err}")
  endif()
  set(OUT "${out}${err}" PARENT_SCOPE)
endfunction()

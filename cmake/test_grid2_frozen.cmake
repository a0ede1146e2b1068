# ctest -P script: the GPU model is frozen for the fresh held-out grid (reports/fidelity/grid2):
# its predictions for grid2's cases (sim/fidelity/grid_predict.sh) must be the frozen copy, so no
# model change slips in between the freeze and the measurement, nor after it unseen.
# Needs -DFLASHCHECK, -DSOURCE_DIR, -DSCRATCH.
set(grid ${SOURCE_DIR}/reports/fidelity/grid2)
execute_process(COMMAND bash ${SOURCE_DIR}/sim/fidelity/grid_predict.sh ${FLASHCHECK} ${grid}/cases.txt
  RESULT_VARIABLE rc OUTPUT_FILE ${SCRATCH} ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "grid_predict.sh failed (${rc}): ${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${SCRATCH} ${grid}/frozen_predictions.txt RESULT_VARIABLE differs)
if(differs)
  message(FATAL_ERROR "the GPU model's predictions for grid2 (${SCRATCH}) are not the frozen ones "
    "(${grid}/frozen_predictions.txt): the model changed. Before grid2 is measured, re-freeze "
    "(regenerate the file, say so in FROZEN.md); after, grid2 no longer judges it blind: choose a fresh grid.")
endif()
file(STRINGS ${grid}/frozen_predictions.txt rows REGEX "^## ")
list(LENGTH rows n)
message(STATUS "${n} grid2 predictions match the frozen ones")
file(REMOVE ${SCRATCH})

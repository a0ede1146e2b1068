# ctest -P script: the fidelity report's ncu parser on a fixture (sim/fidelity/fixture).
# SM-side reads must be l1tex__m_xbar2l1tex_read_bytes (2 GB there), not the L2 slice
# counter lts__t_sectors_srcunit_tex_op_read x 32 (1 GB there, which misses the H200's
# partition-fabric sectors); only a process's first launch is a sample; eventual DRAM writes
# add the following flush's (PyTorch's: after the case marker; flashcheck's: per process, the
# kernels between two drains plus the drain after them, a backward summing its three kernels);
# a CSV without the crossbar metric, a flashcheck write-back with no drain between forward and
# backward, and a process with no CASE line are errors; the L2 probe's points are parsed as
# (x, miss), a lost probe launch is an error, and so is a probe the H200 preset's curve departs from.
# Needs -DFLASHCHECK, -DSOURCE_DIR, -DSCRATCH.
file(REMOVE_RECURSE ${SCRATCH})
set(fixture ${SOURCE_DIR}/sim/fidelity/fixture)
execute_process(COMMAND ${FLASHCHECK} report --no-plots --out ${SCRATCH}/out --fidelity-only ${fixture}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "flashcheck report --fidelity-only failed (${rc}):\n${out}")
endif()
# ';' (inside the why columns) would split CMake lists: replaced before splitting lines and fields.
file(READ ${SCRATCH}/out/fidelity/fidelity.csv content)
string(REPLACE ";" "|" content "${content}")
string(REPLACE "\n" ";" lines "${content}")
list(GET lines 0 header)
string(REPLACE "," ";" header "${header}")
# Checks "column=value" on the row of one kernel of case t01.
function(expect kernel)
  set(row "")
  foreach(l ${lines})
    if(l MATCHES "^t01,held,${kernel},")
      string(REPLACE "," ";" row "${l}")
    endif()
  endforeach()
  if(NOT row)
    message(FATAL_ERROR "no t01 ${kernel} row in fidelity.csv:\n${lines}")
  endif()
  foreach(check ${ARGN})
    string(REPLACE "=" ";" kv "${check}")
    list(GET kv 0 col)
    list(GET kv 1 want)
    list(FIND header ${col} i)
    list(GET row ${i} got)
    if(NOT got STREQUAL want)
      message(FATAL_ERROR "fidelity parser: ${kernel} ${col} = ${got}, expected ${want} (fixture ${fixture})")
    endif()
  endforeach()
endfunction()
# flash2_fwd: the forward process's first launch and the backward process's forward (the same counts).
# Eventual writes (writeback/wb3, wb4, ncu_flashcheck_wb.csv): the forward's 0.02 GB + the drain after
# it (0.03 or 0.05 GB), averaged; the 0.888 GB drain ahead of it is not counted.
expect(flash2_fwd "sm_read_gb=2" "lts_read_gb=1" "samples=2" "dram_read_gb=0.3" "dram_write_gb=0.05"
  "eventual_write_gb=0.06")
# flash2_bwd: D, dK/dV and the dQ conversion summed; eventual: 0.001 + 0.01 + 0.004 GB + the drain
# after them (0.005 or 0.025 GB), averaged; the 0.007 GB drain ahead of them is not counted.
expect(flash2_bwd "sm_read_gb=1.3" "samples=1" "dram_read_gb=0.25" "dram_write_gb=0.03" "eventual_write_gb=0.03")
# Eventual writes (writeback/wb1, wb2): the kernel's 0.04 GB + the next flush's 0.03 or 0.04 GB,
# averaged; the flush before the case's marker is not counted.
expect(torch_flash_fwd "sm_read_gb=2" "dram_write_gb=0.04" "eventual_write_gb=0.075")
# The method's floor (flashcheck's passes): only the drains that follow a drain with no kernel
# between (7 MB in wb3 and wb4), not a process's first drain (888 MB, the set-up's lines).
file(READ ${SCRATCH}/out/fidelity/README.md page)
if(NOT page MATCHES "still wrote back 7-7 MB \\(median 7 MB, 2 drains\\); the drains right after the timed kernels wrote back 5-50 MB")
  message(FATAL_ERROR "fidelity report: the drain floor is not the fixture's 7 MB idle drains")
endif()
# Each further argument must occur in the fixture's rendered `file` (under out/).
function(expect_rows file)
  file(READ ${SCRATCH}/out/${file} text)
  foreach(want ${ARGN})
    string(FIND "${text}" "${want}" at)
    if(at LESS 0)
      message(FATAL_ERROR "fidelity report: no row '${want}' in ${file}:\n${text}")
    endif()
  endforeach()
endfunction()
# The report on the corrupted copy ${SCRATCH}/${name} must fail with an error matching `want`.
function(expect_render_refused name want what)
  execute_process(COMMAND ${FLASHCHECK} report --no-plots --out ${SCRATCH}/${name}-out --fidelity-only ${SCRATCH}/${name}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc EQUAL 0 OR NOT out MATCHES "${want}")
    message(FATAL_ERROR "${what} was accepted (${rc}):\n${out}")
  endif()
endfunction()
# A copy of the fixture with `from` replaced by `to` in `file` must be refused with an error matching `want`.
function(expect_edited_refused name file from to want what)
  file(REMOVE_RECURSE ${SCRATCH}/${name})
  file(COPY ${fixture}/ DESTINATION ${SCRATCH}/${name})
  file(READ ${fixture}/${file} text)
  string(REPLACE "${from}" "${to}" text "${text}")
  file(WRITE ${SCRATCH}/${name}/${file} "${text}")
  expect_render_refused(${name} "${want}" "${what}")
endfunction()
# A copy of the fixture with the lines of `file` matching `drop` removed must be refused with
# an error matching `want` (`what` names the corruption in the failure message).
function(expect_refused name file drop want what)
  file(REMOVE_RECURSE ${SCRATCH}/${name})
  file(COPY ${fixture}/ DESTINATION ${SCRATCH}/${name})
  file(STRINGS ${fixture}/${file} csv)
  list(FILTER csv EXCLUDE REGEX "${drop}")
  list(JOIN csv "\n" csv)
  file(WRITE ${SCRATCH}/${name}/${file} "${csv}\n")
  expect_render_refused(${name} "${want}" "${what}")
endfunction()
# Without the crossbar metric the report refuses rather than fall back to the slice counter.
expect_refused(noxbar ncu_flashcheck.csv "l1tex__m_xbar2l1tex_read_bytes" "lacks l1tex__m_xbar2l1tex_read_bytes"
  "a CSV without the crossbar metric")
# flashcheck's write-back with the drains between forward and backward removed (launches 2 and 3
# of wb3): refused, not summed into one call.
expect_refused(nodrain writeback/wb3/ncu_flashcheck_wb.csv "^\"[23]\"," "ran forward and backward kernels with no drain between"
  "a write-back with no drain between forward and backward")
# A process the driver did not announce (no CASE line): refused, not given to a case by position.
expect_refused(nocase writeback/wb4/ncu_flashcheck_wb.csv "^CASE " "started with no CASE line"
  "a write-back process with no CASE line")
# The L2 probe (l2probe/p1): x = read bytes / (L/2), miss = (DRAM reads - once) / (3 x once) over
# 4 waves; the fixture's points lie on the H200 preset's curve (0 at 0.9, 0.217 at 1, 1 at 1.2).
expect_rows(fidelity/l2probe.csv "\n0.9,0,1,0," "\n1,0.217,1,0.217," "\n1.2,1,1,1,")
# A probe launch missing from ncu's CSV: refused, not paired with the wrong plan row.
expect_refused(probelost l2probe/p1/ncu_read_c1_w4.csv "^\"1\"," "2 launches for 3 in its plan"
  "an L2 probe CSV with a launch missing")
# A measurement the preset's curve does not follow (x 1.0 read as all-miss): rendering fails.
expect_edited_refused(probeoff l2probe/p1/ncu_read_c1_w4.csv "51,935,969" "125,829,120"
  "reuse curve departs from the probe at x = 1 by 0.78" "a probe the preset's curve departs from")
# The stack-frame table against SASS listings: the committed ones with one frame changed (flashcheck's
# d 128 forward, 48 B, listed as 40 B) and with one kernel left out must both be refused.
function(expect_sass_refused name edit with want what)
  file(REMOVE_RECURSE ${SCRATCH}/${name})
  file(COPY ${fixture}/ DESTINATION ${SCRATCH}/${name})
  file(COPY ${SOURCE_DIR}/reports/fidelity/fc_sass ${SOURCE_DIR}/reports/fidelity/torch_sass DESTINATION ${SCRATCH}/${name})
  set(tsv ${SCRATCH}/${name}/fc_sass/flash2_stack_sm90a.tsv)
  file(READ ${tsv} listing)
  string(REGEX REPLACE "${edit}" "${with}" listing "${listing}")
  file(WRITE ${tsv} "${listing}")
  expect_render_refused(${name} "${want}" "${what}")
endfunction()
expect_sass_refused(sassbytes "\n48(\t[0-9]+\tvoid flashcheck::kernels::flash2::flash2_fwd_kernel<flashcheck::kernels::flash2::Flash2FwdTraits<128, 128, 8, 1, 2, false, 1, false>, __nv_bfloat16, false>)"
  "\n40\\1" "the frame table says 48 B per thread" "a listing whose frame differs from the table")
expect_sass_refused(sasslost "\n[0-9]+\t[0-9]+\tvoid flashcheck::kernels::flash2::flash2_bwd_dkdv_kernel<flashcheck::kernels::flash2::Flash2BwdTraits<64, 4, 64, 1, 0>, __nv_bfloat16, true, false>[^\n]*"
  "" "is in no SASS listing" "a listing without a kernel the table names")
# The spill probe (spillprobe/p1): each launch's frames dirty at its end are the drain after it
# (8.65 and 8.9 MB against the floor 264 x 128 x 256 B = 8.65 MB), its in-kernel writes its own.
expect_rows(fidelity/README.md "| p1/f64_w4 | 256 | 4 | 1 | 8.651 | 8.651 | 0.5 | 34.6 |"
  "| p1/f64_w4 | 256 | 4 | 4 | 8.651 | 8.9 | 1.8 | 34.6 |")
# A lost launch is refused; so is a launch whose frames dirty at the end are far from the floor.
expect_refused(spilllost spillprobe/p1/ncu_f64_w4.csv "^\"3\"," "4 launches for 2 in its plan"
  "a spill probe CSV with a launch missing")
expect_edited_refused(spilloff spillprobe/p1/ncu_f64_w4.csv "8,900,000" "30,000,000"
  "the stack-frame floor's premise fails" "a spill probe whose end writes depart from the floor")
# The fresh held-out grid (grid2/, a copy of the fixture's case and passes): judged and written to
# grid2.csv; refused when the measuring build's predictions are not the frozen ones; "not measured
# yet", with no grid2.csv, before its device.txt exists.
expect_rows(fidelity/grid2.csv "\nt01,held,flash2_fwd,1,1,1,1024,64,none,2,2," "\nt01,held,torch_flash_fwd,")
expect_rows(fidelity/README.md "| metric (grid2, all held out) |")
expect_edited_refused(grid2moved grid2/predictions.txt "\"dram_read_bytes\": " "\"dram_read_bytes\": 1"
  "grid2 was measured with a model other than the frozen one" "grid2 measured by a build whose predictions are not the frozen ones")
expect_edited_refused(grid2fit grid2/cases.txt "none held" "none fit" "grid2 is all held out"
  "a grid2 case marked fit (its row would drop out of the summary unseen)")
file(REMOVE_RECURSE ${SCRATCH}/grid2none)
file(COPY ${fixture}/ DESTINATION ${SCRATCH}/grid2none)
file(REMOVE ${SCRATCH}/grid2none/grid2/device.txt)
execute_process(COMMAND ${FLASHCHECK} report --no-plots --out ${SCRATCH}/grid2none-out --fidelity-only ${SCRATCH}/grid2none
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
file(READ ${SCRATCH}/grid2none-out/fidelity/README.md page)
if(NOT rc EQUAL 0 OR NOT page MATCHES "\\*\\*Not measured yet\\*\\*" OR EXISTS ${SCRATCH}/grid2none-out/fidelity/grid2.csv)
  message(FATAL_ERROR "fidelity report: an unmeasured grid2 is not reported as such (${rc}):\n${out}")
endif()
message(STATUS "fidelity parser: SM-side reads from the crossbar metric, first launch only, eventual writes per drain, the L2 probe, the frame table, the spill probe")
file(REMOVE_RECURSE ${SCRATCH})

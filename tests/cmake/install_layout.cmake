# cmake -DBUILD_DIR=<build> -DWORK_DIR=<scratch> -DGUI_BUILT=ON|OFF [-DXVFB_RUN=<xvfb-run>] -P install_layout.cmake
# `cmake --install` into a scratch prefix, then the prefix moved elsewhere: both programs must be in bin/, the bundled
# data in share/dmascope/, the CLI must read an installed model, and the app (when built) must answer --help and, under
# Xvfb, open the installed tour and model rather than the source tree's.
function(run_checked description)
  execute_process(COMMAND ${ARGN} OUTPUT_VARIABLE output ERROR_VARIABLE errors RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${description} failed (${status}):\n${output}${errors}")
  endif()
  set(run_output "${output}${errors}" PARENT_SCOPE)
endfunction()

function(expect_contains description text expected)
  string(FIND "${text}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${description} does not contain \"${expected}\":\n${text}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
run_checked("cmake --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix"
            "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
# Moved: the installed tree must not depend on where it was installed.
file(RENAME "${WORK_DIR}/prefix" "${WORK_DIR}/moved")
set(prefix "${WORK_DIR}/moved")

set(expected_files bin/dmascope-cli share/dmascope/models/recall-table.json share/dmascope/tours/dma-intro.json
                   share/dmascope/models/doge-toy-mix/config.json share/dmascope/models/doge-toy-mqar/config.json
                   share/dmascope/models/doge-tiny-random/config.json)
if(GUI_BUILT)
  list(APPEND expected_files bin/dmascope)
endif()
foreach(file IN LISTS expected_files)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "the install lacks ${file} (looked in ${prefix})")
  endif()
endforeach()

run_checked("dmascope-cli info on the installed toy model" "${prefix}/bin/dmascope-cli" info
            "${prefix}/share/dmascope/models/doge-toy-mix")
expect_contains("dmascope-cli info's output" "${run_output}" "${prefix}/share/dmascope/models/doge-toy-mix")
expect_contains("dmascope-cli info's output" "${run_output}" "keep_window_size")

if(GUI_BUILT)
  run_checked("the installed dmascope --help" "${prefix}/bin/dmascope" --help)
  expect_contains("dmascope --help" "${run_output}" "Usage: dmascope")
  if(XVFB_RUN)
    # Presenter mode opens the bundled tour, whose session names its model relative to the tour file: the saved
    # session shows which tree the app read.
    run_checked("the installed dmascope --present under Xvfb" "${XVFB_RUN}" -a "${prefix}/bin/dmascope" --present
                --screenshot "${WORK_DIR}/tour.png" --save-session "${WORK_DIR}/tour-session.json")
    file(READ "${WORK_DIR}/tour-session.json" session)
    expect_contains("the session the installed app saved" "${session}" "${prefix}/share/dmascope/models/doge-toy-mix")
  endif()
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "installed, moved, and the programs found their data in ${prefix}")

# cmake -DNM=<nm> -DLIBRARIES=<lib|lib> -P no_test_helpers_in_product.cmake
# Fails when a product library defines a helper that exists only for the tests (tests/support/): such helpers live in
# the test-support libraries, so that the shipped programs cannot reach them.
string(REPLACE "|" ";" LIBRARIES "${LIBRARIES}")
set(test_only_symbols "kernel_check::" "dma_dense_keep_reference" "download_device_mask" "DeviceMasks::download")
foreach(library IN LISTS LIBRARIES)
  execute_process(COMMAND ${NM} -C --defined-only ${library} OUTPUT_VARIABLE symbols RESULT_VARIABLE status
                  ERROR_VARIABLE errors)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "could not list the symbols of ${library} with ${NM}: ${errors}")
  endif()
  foreach(symbol IN LISTS test_only_symbols)
    string(FIND "${symbols}" "${symbol}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${library} defines the test-only ${symbol}: move it to tests/support/")
    endif()
  endforeach()
  message(STATUS "${library}: no test-only helpers")
endforeach()

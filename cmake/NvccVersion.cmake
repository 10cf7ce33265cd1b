# dmascope_nvcc_version(<nvcc> <out-var>): the CUDA release nvcc reports ("Cuda compilation tools, release 13.0, ..."
# → 13.0), or an empty string when it cannot be run or prints no release. Runs nvcc itself rather than
# enable_language(CUDA), which fails outright for a compiler the project cannot use.
function(dmascope_nvcc_version nvcc out_var)
  execute_process(COMMAND "${nvcc}" --version OUTPUT_VARIABLE banner ERROR_VARIABLE banner_errors
                  RESULT_VARIABLE status TIMEOUT 60)
  set(version "")
  if(status EQUAL 0 AND banner MATCHES "release ([0-9]+\\.[0-9]+)")
    set(version "${CMAKE_MATCH_1}")
  endif()
  set(${out_var} "${version}" PARENT_SCOPE)
endfunction()

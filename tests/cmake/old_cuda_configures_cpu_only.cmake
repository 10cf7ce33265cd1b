# cmake -DSOURCE_DIR=<repo> -DWORK_DIR=<scratch> -DGENERATOR=<gen> -P old_cuda_configures_cpu_only.cmake
# Configures the project with a stand-in nvcc that reports CUDA 11.8 (Debian's own toolkit) and fails anything else:
# the configure must succeed, say which CUDA it found and which it needs, and generate the CPU-only product (no kernels
# library), instead of failing in enable_language(CUDA) or in the build.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/bin")
set(fake_nvcc "${WORK_DIR}/bin/nvcc")
file(WRITE "${fake_nvcc}" [=[#!/bin/sh
if [ "$1" = "--version" ]; then
  echo "nvcc: NVIDIA (R) Cuda compiler driver"
  echo "Copyright (c) 2005-2022 NVIDIA Corporation"
  echo "Built on Wed_Sep_21_10:33:58_PDT_2022"
  echo "Cuda compilation tools, release 11.8, V11.8.89"
  echo "Build cuda_11.8.r11.8/compiler.31833905_0"
  exit 0
fi
echo "stand-in nvcc 11.8: the configure must not compile with it ($*)" >&2
exit 1
]=])
file(CHMOD "${fake_nvcc}" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)

execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
                        -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER=${fake_nvcc} -DDMASCOPE_GUI=OFF
                        -DBUILD_TESTING=OFF
                OUTPUT_VARIABLE configure_output ERROR_VARIABLE configure_errors RESULT_VARIABLE status)
set(log "${configure_output}${configure_errors}")
# CMake wraps the text of a WARNING: compare with runs of blanks made single spaces.
string(REGEX REPLACE "[ \t\r\n]+" " " flat_log "${log}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the configure with a CUDA 11.8 nvcc failed (it must fall back to the CPU-only product):\n${log}")
endif()
foreach(expected "is CUDA 11.8" "need CUDA 12.0 or newer" "Building the CPU-only product")
  string(FIND "${flat_log}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the configure output does not say \"${expected}\":\n${log}")
  endif()
endforeach()
file(GLOB generated "${WORK_DIR}/build/build.ninja" "${WORK_DIR}/build/Makefile")
if(NOT generated)
  message(FATAL_ERROR "the configure generated no build files in ${WORK_DIR}/build")
endif()
file(READ "${WORK_DIR}/build/CMakeCache.txt" cache)
if(NOT cache MATCHES "dmascope_core_BINARY_DIR|CMAKE_PROJECT_NAME:STATIC=dmascope")
  message(FATAL_ERROR "the configure did not set up the dmascope project:\n${log}")
endif()
if(EXISTS "${WORK_DIR}/build/kernels" OR EXISTS "${WORK_DIR}/build/CMakeFiles/${CMAKE_VERSION}/CMakeCUDACompiler.cmake")
  message(FATAL_ERROR "the configure enabled CUDA or generated the kernels with a CUDA 11.8 nvcc:\n${log}")
endif()
if(NOT EXISTS "${WORK_DIR}/build/core" OR NOT EXISTS "${WORK_DIR}/build/app")
  message(FATAL_ERROR "the configure did not generate the CPU-only product (core/, app/):\n${log}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "a CUDA 11.8 nvcc gives the CPU-only product, with the message")

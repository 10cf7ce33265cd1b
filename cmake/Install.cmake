# `cmake --install build --prefix P`: the programs in P/bin, the data they ship with in P/share/dmascope (models/ with
# recall-table.json, tours/). The app looks for its data at ../share/dmascope beside its own binary
# (engine/session/bundled_assets.cpp), so the tree works wherever P is moved; the layout is fixed here rather than
# taken from GNUInstallDirs for that reason. The GLSL in shaders/ is embedded into the app at configure time
# (app/CMakeLists.txt) and is not installed.
install(TARGETS dmascope-cli RUNTIME DESTINATION bin)
if(DMASCOPE_GUI_BUILT)
  install(TARGETS dmascope RUNTIME DESTINATION bin)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/assets/models ${PROJECT_SOURCE_DIR}/assets/tours DESTINATION share/dmascope)

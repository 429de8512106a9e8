# Turns the preprocessed ABI header (abi.h with -DLUNAR_CDEF) into
#  - lua/lunar/abi_cdef.lua: the ffi.cdef the Lua side loads, and
#  - lunar.dynlist: the linker's list of symbols Lua may resolve via ffi.C.
# Run by the build (see CMakeLists.txt); never edit the outputs by hand.
# Inputs: IN (preprocessed text), OUT_LUA, OUT_SYMS.
file(READ "${IN}" text)
string(REGEX REPLACE "\n[ \t]*\n+" "\n" text "${text}")
string(FIND "${text}" "]]" bad)
if(NOT bad EQUAL -1)
	message(FATAL_ERROR "abi.h must not contain ']]' (it ends the Lua long string)")
endif()
file(WRITE "${OUT_LUA}.tmp"
"-- Generated at build time from core/include/lunar/abi.h. Do not edit.\n"
"local ffi = require \"ffi\"\n"
"ffi.cdef[[\n${text}]]\n"
"return { cmd_size = ffi.sizeof(\"struct lunar_cmd\") }\n")
file(RENAME "${OUT_LUA}.tmp" "${OUT_LUA}")

string(REGEX MATCHALL "lunar_[a-z0-9_]+[ \t]*\\(" calls "${text}")
set(syms "{\n")
foreach(c ${calls})
	string(REGEX REPLACE "[ \t]*\\($" "" name "${c}")
	string(APPEND syms "\t${name};\n")
endforeach()
string(APPEND syms "};\n")
file(WRITE "${OUT_SYMS}" "${syms}")

// Text from a file (tensor names, JSON keys, token strings, paths) shown on a terminal, in an error message or in the
// UI: escaped so that a crafted name cannot move the cursor, clear the screen, recolour the output or print a fake
// line of its own ("\nerror: all good"). Every place file text reaches a person goes through printable().
#pragma once

#include <string>
#include <string_view>

namespace dmascope {

// Control bytes (C0, DEL, and the UTF-8 encoded C1 controls U+0080..U+009F, which some terminals obey) become \xNN
// escapes; a backslash stays as it is; everything else (UTF-8 included) is kept.
std::string printable(std::string_view text);

// An exception's message shown to a person: printable(), except that a line break stays a line break, each
// continuation line indented by two spaces. dmascope's own messages may span lines (they escape file text where
// they insert it); the indent keeps any line of a message from passing as a line of its own ("error: ...").
std::string printable_message(std::string_view text);

}  // namespace dmascope

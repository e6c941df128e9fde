// read_text_file(): a whole UTF-8 text (calibration or evaluation corpus) as one string, with
// CRLF line ends made LF so that a file tokenizes the same whichever system wrote it.
#pragma once

#include <string>

#include "dcllm/status.h"

namespace dcllm {

Expected<std::string> read_text_file(const std::string& path);

}  // namespace dcllm

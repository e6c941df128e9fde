// File identity (device + inode, symlinks followed) and the check that an output path can be
// written without destroying one of the inputs: the same file under any name, link or alias.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileIdentity&) const = default;
};

// The identity of what `path` names after following symlinks; nullopt when it does not exist.
std::optional<FileIdentity> file_identity(const std::string& path);

// Fails, naming `output`, when the output could not be a new or replaced regular file: it names
// a directory or another non-regular file, its directory is missing or not writable, or it is
// (by identity, so also through a symlink or a hard link) one of the existing `inputs`.
// Inputs that do not exist are skipped: their readers report them.
Status check_output_path(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace dcllm

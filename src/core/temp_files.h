// Temporary files that never outlive the process: unnamed (O_TMPFILE) files where the file
// system allows them, else uniquely named ones recorded in a registry a signal handler unlinks.
#pragma once

#include <string>

#include "dcllm/status.h"

namespace dcllm {

// The directory part of `path` ("." when it has none, "/" for a file at the root).
std::string parent_directory(const std::string& path);

// An unnamed regular file in `dir` (open(2) with O_TMPFILE), opened read-write with mode
// 0666 & ~umask. `linkable` = false adds O_EXCL so it can never be given a name. Returns -1
// (errno set) where the file system or kernel does not support it; callers fall back.
int open_unnamed_temp(const std::string& dir, bool linkable);

// A new file named `prefix` + 6 random characters, created O_EXCL with mode 0666 & ~umask
// (open() applies the umask, so it is never read or changed). Returns the descriptor and name.
struct NamedTemp {
  int fd = -1;
  std::string path;
};
Expected<NamedTemp> create_named_temp(const std::string& prefix);

// A name for a link that does not exist yet: `prefix` + 6 random characters.
std::string random_temp_name(const std::string& prefix);

// Signal-safe cleanup registry: a fixed table of paths that a SIGINT/SIGTERM/SIGHUP handler
// unlinks before the signal takes its usual effect. register_temp_path() returns a slot (or
// -1 when the table is full or the path too long: that file is then only removed normally).
int register_temp_path(const std::string& path);
void unregister_temp_path(int slot);

// Installs the handlers (once; idempotent, thread-safe). A signal that is ignored stays ignored
// (nohup); after cleanup the previous disposition is restored and the signal raised again, so
// the exit status still says which signal ended the process. Front ends call this: a library
// must not take over signals behind its host's back (the Python module, the server).
void install_temp_cleanup_handlers();

}  // namespace dcllm

// Output-path checks by stat(2): paths compare unequal for "./m.gguf", "/abs/m.gguf", symlinks
// and hard links, so only device + inode can tell whether two names are one file.
#include "core/file_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/temp_files.h"

namespace dcllm {

std::optional<FileIdentity> file_identity(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileIdentity{st.st_dev, st.st_ino};
}

Status check_output_path(const std::string& output, const std::vector<std::string>& inputs) {
  if (output.empty()) return InvalidArgument("no output file given");
  if (output.back() == '/')
    return InvalidArgument(output + ": names a directory; the output must be a file name");
  struct stat st {};
  if (::stat(output.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return InvalidArgument(output + ": is a directory; the output must be a file name");
    if (!S_ISREG(st.st_mode)) return InvalidArgument(output + ": exists and is not a regular file");
    const FileIdentity out{st.st_dev, st.st_ino};
    for (const std::string& in : inputs) {
      if (file_identity(in) == out)
        return InvalidArgument(output + ": is the input '" + in +
                               "' (the same file); the output would overwrite it");
    }
  }
  // The new file is created beside the name itself (a symlink at `output` is replaced, not
  // followed), so its own directory must exist and take new files.
  const std::string dir = parent_directory(output);
  struct stat ds {};
  if (::stat(dir.c_str(), &ds) != 0) {
    const int e = errno;
    return IoError(output + ": directory '" + dir + "' " +
                   (e == ENOENT ? std::string("does not exist") : std::string(std::strerror(e))));
  }
  if (!S_ISDIR(ds.st_mode)) return IoError(output + ": '" + dir + "' is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    const int e = errno;
    return IoError(output + ": cannot create files in '" + dir + "': " + std::strerror(e));
  }
  return Status::Ok();
}

}  // namespace dcllm

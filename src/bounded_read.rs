//! One bounded read of a small local file, for every file the library reads:
//! the credentials and regions files, the CA bundle, a targets file, a
//! rollout plan.

use std::path::Path;

/// A small file's bytes (a configuration file, a targets file, a plan): refused unless it is a regular
/// file (a FIFO would block the open for ever, a device such as `/dev/zero`
/// never ends), and at most `max_bytes` long. Errors are I/O errors whose
/// message says which rule the file broke; `NotFound` when it is missing.
///
/// ```
/// use iotda_batchtask::config::read_small_file;
///
/// let e = read_small_file(std::path::Path::new("/dev/zero"), 1024).expect_err("a device");
/// assert!(e.to_string().contains("not a regular file"), "{e}");
/// ```
pub fn read_small_file(path: &Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let not_regular = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a pipe or device could block or never end)",
        )
    };
    // `stat` never blocks, where opening a FIFO waits for a writer. (A file
    // swapped for a FIFO between the two looks could still block the open:
    // that takes a local attacker, and the second look catches the rest.)
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max_bytes} bytes"),
        ));
    }
    Ok(bytes)
}

//! Shared by the bench binaries: command-line flags.

/// The value after `--name` in `args`, parsed, if present and valid.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

//! Value references: any configuration or `apply` value may be `env://NAME` or `file:///path`,
//! so Kubernetes Secrets (mounted files or injected variables) plug in without templating.

use std::path::Path;

/// Why a reference could not be resolved. The message names the variable or file, never its
/// contents.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// `env://NAME` named a variable that is not set (or not UTF-8).
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// `file:///path` could not be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The path from the reference.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// `file://` without an absolute path.
    #[error("file references must be absolute, like file:///run/secrets/name (got {0:?})")]
    RelativeFile(String),
}

/// Resolves `value` if it is a reference; returns `None` for plain values.
///
/// File contents lose one trailing newline (as `echo secret > file` adds one); everything else
/// is kept verbatim.
pub fn resolve(value: &str) -> Result<Option<String>, ReferenceError> {
    if let Some(name) = value.strip_prefix("env://") {
        return std::env::var(name)
            .map(Some)
            .map_err(|_| ReferenceError::MissingEnv(name.to_owned()));
    }
    if let Some(path) = value.strip_prefix("file://") {
        if !Path::new(path).is_absolute() {
            return Err(ReferenceError::RelativeFile(value.to_owned()));
        }
        let mut text = std::fs::read_to_string(path).map_err(|e| ReferenceError::File {
            path: path.to_owned(),
            reason: e.kind().to_string(),
        })?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        return Ok(Some(text));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_pass_through() {
        assert_eq!(resolve("hello"), Ok(None));
        assert_eq!(resolve("https://example.com"), Ok(None));
    }

    #[test]
    fn env_references() {
        assert_eq!(
            resolve("env://PATH").ok().flatten(),
            std::env::var("PATH").ok()
        );
        assert_eq!(
            resolve("env://GATEHOUSE_SURELY_UNSET_VARIABLE"),
            Err(ReferenceError::MissingEnv(
                "GATEHOUSE_SURELY_UNSET_VARIABLE".into()
            ))
        );
    }

    #[test]
    fn file_references_trim_one_newline() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n\n")?;
        let reference = format!("file://{}", path.display());
        assert_eq!(resolve(&reference)?, Some("s3cret\n".into()));
        assert!(matches!(
            resolve("file://relative/x"),
            Err(ReferenceError::RelativeFile(_))
        ));
        assert!(matches!(
            resolve("file:///nonexistent/gatehouse"),
            Err(ReferenceError::File { .. })
        ));
        Ok(())
    }
}

//! [`Error`]: what an action returns to fail, and [`ApiError`]: what an API call can refuse.

use std::fmt;

/// The error an action returns to fail the login, like a thrown error in an Auth0 action.
///
/// Anything that implements [`std::error::Error`] converts into it with `?`, and
/// [`Error::msg`] makes one from a message.
///
/// ```
/// fn parse(s: &str) -> Result<u32, cachet_guest::Error> {
///     Ok(s.parse::<u32>()?)
/// }
/// assert!(parse("12").is_ok());
/// assert!(parse("x").unwrap_err().to_string().contains("invalid digit"));
/// assert_eq!(cachet_guest::Error::msg("no").to_string(), "no");
/// ```
pub struct Error(String);

impl Error {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

// Like anyhow: `Error` itself does not implement `std::error::Error`, which is what makes this
// blanket conversion coherent.
impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// An API call the host refused: invalid JSON, an invalid claim name, too many commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub String);

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ApiError {}

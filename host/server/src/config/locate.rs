//! Where in the config file a mistake is: byte offsets (serde's spans) into 1-based lines and
//! columns, and [`ConfigError`]s that carry them.

use std::path::Path;

use toml::Spanned;

use super::ConfigError;

/// Turns byte offsets into lines, and builds errors that carry them.
pub(super) struct Locator<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Locator<'_> {
    /// 1-based line and column (in characters) of byte `offset`.
    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        // Back to a character boundary, so no offset can make the slice panic.
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// An error at `value`'s line; a defaulted value (empty span) points at line 1.
    pub(super) fn invalid<T>(&self, value: &Spanned<T>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: self.line_col(value.span().start).0,
            message,
        }
    }
}

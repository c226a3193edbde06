//! Errors reported when a model is built (shapes, sizes, configuration).

/// A model description that cannot be built. Raised by constructors, never from inside a
/// forward or backward pass, so a mistake surfaces where the model is described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NnError {
    /// Two connected parts disagree on a size.
    #[error("shape mismatch in {context}: {detail}")]
    Shape { context: String, detail: String },
    /// A size or option that makes no sense on its own (zero width, empty head list, ...).
    #[error("invalid configuration for {context}: {detail}")]
    Config { context: String, detail: String },
}

impl NnError {
    pub fn shape(context: impl Into<String>, detail: impl Into<String>) -> Self {
        NnError::Shape {
            context: context.into(),
            detail: detail.into(),
        }
    }

    pub fn config(context: impl Into<String>, detail: impl Into<String>) -> Self {
        NnError::Config {
            context: context.into(),
            detail: detail.into(),
        }
    }
}

/// Checks that a layer size is non-zero.
pub(crate) fn nonzero(context: &str, what: &str, n: usize) -> Result<(), NnError> {
    if n == 0 {
        Err(NnError::config(
            context,
            format!("{what} must be at least 1, got 0"),
        ))
    } else {
        Ok(())
    }
}

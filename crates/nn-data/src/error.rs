//! The error type of every fallible `nn-data` function.

use std::path::PathBuf;

use nn_tensor::TensorError;
use thiserror::Error;

/// Result type of fallible data operations.
pub type Result<T> = std::result::Result<T, DataError>;

/// An error while reading, validating or transforming data.
///
/// File errors name the file and where in it the problem lies (line and column for text,
/// byte offset for binary formats), so that a bad file can be fixed without a debugger.
#[derive(Debug, Error)]
pub enum DataError {
    /// The operating system refused to open or read a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file (or string) could not be parsed.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Csv {
        /// The file (`<string>` for in-memory text).
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The 1-based column (field) number, or 0 when the error concerns the whole line.
        column: usize,
        /// What is wrong, quoting the offending text.
        message: String,
    },
    /// An IDX file (MNIST family) is malformed.
    #[error("{}: at byte {offset}: {message}", path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// Byte offset of the problem (in the decompressed stream for gzipped files).
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// Data has the wrong shape.
    #[error("{what}: expected shape {expected:?}, found {found:?}")]
    Shape {
        /// What was being checked.
        what: String,
        /// The expected (or reference) shape.
        expected: Vec<usize>,
        /// The shape found.
        found: Vec<usize>,
    },
    /// An invalid argument or value, described in words.
    #[error("{message}")]
    Invalid {
        /// What was wrong.
        message: String,
    },
    /// A data file is not installed.
    #[error("{} not found: {hint}", path.display())]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
        /// How to get it.
        hint: String,
    },
    /// A text corpus holds no words at all.
    #[error("{source_name}: the corpus is empty (no words found)")]
    EmptyCorpus {
        /// The file, or `<string>` for in-memory text.
        source_name: String,
    },
    /// Every word of a corpus occurs fewer than `min_count` times.
    #[error(
        "the vocabulary is empty: none of the {distinct} distinct words occurs at least \
         min_count = {min_count} times (most frequent: {max_count} times)"
    )]
    EmptyVocabulary {
        /// The threshold that was applied.
        min_count: u64,
        /// How many distinct words the corpus has.
        distinct: usize,
        /// The count of the most frequent word.
        max_count: u64,
    },
    /// A text file is not valid UTF-8.
    #[error("{}: at byte {offset}: invalid UTF-8 in a word", path.display())]
    Utf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the start of the offending word.
        offset: u64,
    },
    /// A word-vectors file (word2vec text format) could not be parsed.
    #[error("{}:{line}: {message}", path.display())]
    Vectors {
        /// The file (`<string>` for in-memory text).
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong, quoting the offending text.
        message: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

impl DataError {
    /// Shorthand for [`DataError::Invalid`].
    pub fn invalid(message: impl Into<String>) -> Self {
        DataError::Invalid {
            message: message.into(),
        }
    }

    /// Shorthand for [`DataError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_file_and_position() {
        let e = DataError::Csv {
            path: "a/b.csv".into(),
            line: 3,
            column: 2,
            message: "cannot parse `x`".into(),
        };
        assert_eq!(e.to_string(), "a/b.csv:3:2: cannot parse `x`");
        let e = DataError::Idx {
            path: "f.idx".into(),
            offset: 7,
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "f.idx: at byte 7: bad");
        let e = DataError::Missing {
            path: "/x/y".into(),
            hint: "install it".into(),
        };
        assert_eq!(e.to_string(), "/x/y not found: install it");
        let e = DataError::Shape {
            what: "w".into(),
            expected: vec![2, 3],
            found: vec![4],
        };
        assert_eq!(e.to_string(), "w: expected shape [2, 3], found [4]");
        let e: DataError = TensorError::invalid("op", "msg").into();
        assert_eq!(e.to_string(), "op: msg");
    }
}

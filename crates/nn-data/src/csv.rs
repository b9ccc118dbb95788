//! A small CSV reader for numeric tables: [`read_csv`] and [`parse_csv_str`].
//!
//! Every data field must be a number (`f32` syntax: `1`, `-2.5`, `3e-4`, `nan`, `inf`);
//! one column may be chosen as the label column. Supported: an optional header line, any
//! ASCII delimiter, `\n` or `\r\n` line ends, a UTF-8 byte-order mark, fields quoted with `"`
//! (with `""` for a literal quote, delimiters and line breaks inside quotes), whitespace
//! around fields, blank lines (skipped) and gzipped files (detected by their magic bytes).
//! Not supported: missing values (an empty field is an error).
//!
//! Errors name the file, the 1-based line and column (field number) and quote the offending
//! text; rows with the wrong number of fields are an error naming the line.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use nn_tensor::Tensor;

use crate::{DataError, Result, TensorDataset};

/// How to read a CSV table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first (non-blank) line holds column names.
    pub has_header: bool,
    /// The column holding the labels (negative counts from the end: `-1` is the last), or
    /// `None` when every column is a feature.
    pub label_column: Option<isize>,
    /// The field delimiter, an ASCII byte other than `"`, `\r` and `\n` (e.g. `b','`,
    /// `b';'`, `b'\t'`).
    pub delimiter: u8,
}

impl Default for CsvOptions {
    /// No header, labels in the last column, comma-separated.
    fn default() -> Self {
        CsvOptions {
            has_header: false,
            label_column: Some(-1),
            delimiter: b',',
        }
    }
}

/// A parsed numeric CSV table.
#[derive(Clone, Debug)]
pub struct CsvTable {
    /// The feature columns, `[N, F]`.
    pub features: Tensor<f32>,
    /// The label column, `[N]`, when [`CsvOptions::label_column`] was given.
    pub labels: Option<Tensor<f32>>,
    /// All column names from the header line, when [`CsvOptions::has_header`] was set.
    pub header: Option<Vec<String>>,
    /// The (non-negative) index of the label column among all columns.
    pub label_index: Option<usize>,
}

impl CsvTable {
    /// The names of the feature columns (the header without the label column).
    pub fn feature_names(&self) -> Option<Vec<String>> {
        let header = self.header.as_ref()?;
        Some(
            header
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != self.label_index)
                .map(|(_, n)| n.clone())
                .collect(),
        )
    }

    /// The table as a dataset of features and labels; an error if it has no label column.
    pub fn into_dataset(self) -> Result<TensorDataset> {
        match self.labels {
            Some(y) => TensorDataset::new(self.features, y),
            None => Err(DataError::invalid(
                "CsvTable::into_dataset: the table has no label column (set label_column)",
            )),
        }
    }
}

/// Reads a numeric CSV file (plain or gzipped); see the [module docs](self).
pub fn read_csv(path: impl AsRef<Path>, options: CsvOptions) -> Result<CsvTable> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::io(path, e))?;
        out
    } else {
        raw
    };
    parse_csv_bytes(&bytes, options, path)
}

/// Parses numeric CSV text held in memory; errors name the path `<string>`.
pub fn parse_csv_str(text: &str, options: CsvOptions) -> Result<CsvTable> {
    parse_impl(text, options, Path::new("<string>"), 1)
}

/// Parses CSV bytes that should be UTF-8, reporting where they are not.
pub(crate) fn parse_csv_bytes(bytes: &[u8], options: CsvOptions, path: &Path) -> Result<CsvTable> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_impl(text, options, path, 1),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let column = good[line_start..]
                .iter()
                .filter(|&&b| b == options.delimiter)
                .count()
                + 1;
            Err(DataError::Csv {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            })
        }
    }
}

/// One field of a record.
struct Field<'a> {
    text: Cow<'a, str>,
    line: usize,
    quoted: bool,
}

/// Splits text into records of fields.
struct Tokenizer<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    delim: u8,
    path: &'a Path,
}

impl<'a> Tokenizer<'a> {
    fn err(&self, line: usize, column: usize, message: String) -> DataError {
        DataError::Csv {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
        }
    }

    /// Reads the next record into `fields`; returns the line where it starts, `None` at the
    /// end of the text.
    fn next_record(&mut self, fields: &mut Vec<Field<'a>>) -> Result<Option<usize>> {
        fields.clear();
        let text = self.text;
        let b = text.as_bytes();
        let len = b.len();
        if self.pos >= len {
            return Ok(None);
        }
        let start_line = self.line;
        let is_blank = |c: u8, delim: u8| (c == b' ' || c == b'\t' || c == b'\r') && c != delim;
        loop {
            let column = fields.len() + 1;
            let field_line = self.line;
            let mut p = self.pos;
            while p < len && is_blank(b[p], self.delim) {
                p += 1;
            }
            if p < len && b[p] == b'"' {
                p += 1;
                let mut owned: Option<String> = None;
                let mut seg = p;
                loop {
                    if p >= len {
                        return Err(self.err(
                            field_line,
                            column,
                            "unterminated quoted field (no closing `\"`)".into(),
                        ));
                    }
                    match b[p] {
                        b'"' if p + 1 < len && b[p + 1] == b'"' => {
                            owned
                                .get_or_insert_with(String::new)
                                .push_str(&text[seg..=p]);
                            p += 2;
                            seg = p;
                        }
                        b'"' => break,
                        b'\n' => {
                            self.line += 1;
                            p += 1;
                        }
                        _ => p += 1,
                    }
                }
                let value = match owned {
                    Some(mut s) => {
                        s.push_str(&text[seg..p]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&text[seg..p]),
                };
                p += 1; // the closing quote
                while p < len && is_blank(b[p], self.delim) {
                    p += 1;
                }
                if p < len && b[p] != self.delim && b[p] != b'\n' {
                    let end = text[p..].find('\n').map_or(len, |e| p + e);
                    return Err(self.err(
                        self.line,
                        column,
                        format!(
                            "unexpected text `{}` after a closing quote",
                            excerpt(&text[p..end])
                        ),
                    ));
                }
                fields.push(Field {
                    text: value,
                    line: field_line,
                    quoted: true,
                });
            } else {
                let start = self.pos;
                while p < len && b[p] != self.delim && b[p] != b'\n' {
                    p += 1;
                }
                let raw = text[start..p].trim_matches(|c: char| is_blank_char(c, self.delim));
                fields.push(Field {
                    text: Cow::Borrowed(raw),
                    line: field_line,
                    quoted: false,
                });
            }
            if p < len && b[p] == self.delim {
                self.pos = p + 1;
                continue;
            }
            if p < len && b[p] == b'\n' {
                p += 1;
                self.line += 1;
            }
            self.pos = p;
            return Ok(Some(start_line));
        }
    }

    /// Like [`Tokenizer::next_record`] but skipping blank lines.
    fn next_nonblank(&mut self, fields: &mut Vec<Field<'a>>) -> Result<Option<usize>> {
        loop {
            match self.next_record(fields)? {
                Some(_) if fields.len() == 1 && !fields[0].quoted && fields[0].text.is_empty() => {}
                other => return Ok(other),
            }
        }
    }
}

fn is_blank_char(c: char, delim: u8) -> bool {
    (c == ' ' || c == '\t' || c == '\r') && c != delim as char
}

/// At most 40 characters of `s`, for error messages.
fn excerpt(s: &str) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}

/// Parses `text`, whose first line is line `line0` of `path` (for error positions).
pub(crate) fn parse_impl(
    text: &str,
    options: CsvOptions,
    path: &Path,
    line0: usize,
) -> Result<CsvTable> {
    let delim = options.delimiter;
    if !delim.is_ascii() || matches!(delim, b'"' | b'\r' | b'\n') {
        return Err(DataError::invalid(format!(
            "CsvOptions: delimiter {:?} must be an ASCII byte other than '\"', '\\r', '\\n'",
            delim as char
        )));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut tok = Tokenizer {
        text,
        pos: 0,
        line: line0,
        delim,
        path,
    };
    let mut fields: Vec<Field<'_>> = Vec::new();
    let csv_err = |line: usize, column: usize, message: String| DataError::Csv {
        path: PathBuf::from(path),
        line,
        column,
        message,
    };

    // The header, or the first data record that fixes the number of columns.
    let first_line = tok.next_nonblank(&mut fields)?;
    let Some(first_line) = first_line else {
        // Empty input: no columns, no rows.
        return Ok(CsvTable {
            features: Tensor::from_vec(Vec::new(), [0, 0])?,
            labels: options
                .label_column
                .map(|_| Tensor::from_vec(Vec::new(), [0]))
                .transpose()?,
            header: None,
            label_index: None,
        });
    };
    let ncols = fields.len();
    let header = options.has_header.then(|| {
        fields
            .iter()
            .map(|f| f.text.trim().to_string())
            .collect::<Vec<_>>()
    });
    let label_index = match options.label_column {
        None => None,
        Some(c) => {
            let idx = if c >= 0 { c } else { ncols as isize + c };
            if idx < 0 || idx >= ncols as isize {
                return Err(csv_err(
                    first_line,
                    0,
                    format!("label column {c} is out of range for {ncols} columns"),
                ));
            }
            Some(idx as usize)
        }
    };
    let nfeat = ncols - usize::from(label_index.is_some());
    let mut features: Vec<f32> = Vec::new();
    let mut labels: Vec<f32> = Vec::new();
    let mut rows = 0usize;
    let mut have_record = !options.has_header;
    loop {
        if !have_record && tok.next_nonblank(&mut fields)?.is_none() {
            break;
        }
        have_record = false;
        let line = fields.first().map_or(tok.line, |f| f.line);
        if fields.len() != ncols {
            return Err(csv_err(
                line,
                fields.len().min(ncols) + 1,
                format!(
                    "expected {ncols} fields (as on line {first_line}), found {}",
                    fields.len()
                ),
            ));
        }
        for (j, f) in fields.iter().enumerate() {
            let s = f.text.trim();
            if s.is_empty() {
                return Err(csv_err(
                    f.line,
                    j + 1,
                    "empty field (missing values are not supported)".into(),
                ));
            }
            let v: f32 = s.parse().map_err(|_| {
                csv_err(
                    f.line,
                    j + 1,
                    format!("cannot parse `{}` as a number", excerpt(s)),
                )
            })?;
            if Some(j) == label_index {
                labels.push(v);
            } else {
                features.push(v);
            }
        }
        rows += 1;
    }
    Ok(CsvTable {
        features: Tensor::from_vec(features, [rows, nfeat])?,
        labels: label_index
            .map(|_| Tensor::from_vec(labels, [rows]))
            .transpose()?,
        header,
        label_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(has_header: bool, label_column: Option<isize>) -> CsvOptions {
        CsvOptions {
            has_header,
            label_column,
            delimiter: b',',
        }
    }

    fn csv_pos(e: &DataError) -> (usize, usize, String) {
        match e {
            DataError::Csv {
                line,
                column,
                message,
                ..
            } => (*line, *column, message.clone()),
            other => panic!("not a CSV error: {other}"),
        }
    }

    #[test]
    fn csv_basic_with_header_and_last_label() {
        let t = parse_csv_str("a,b,label\n1,2,0\n3.5,-4e1,1\n", opts(true, Some(-1))).unwrap();
        assert_eq!(t.features.shape(), &[2, 2]);
        assert_eq!(t.features.to_vec(), vec![1.0, 2.0, 3.5, -40.0]);
        assert_eq!(t.labels.as_ref().unwrap().to_vec(), vec![0.0, 1.0]);
        assert_eq!(t.header.as_ref().unwrap(), &["a", "b", "label"]);
        assert_eq!(t.feature_names().unwrap(), vec!["a", "b"]);
        let ds = t.into_dataset().unwrap();
        assert_eq!(ds.len(), 2);
    }

    #[test]
    fn csv_label_column_first_and_none() {
        let t = parse_csv_str("7,1,2\n8,3,4", opts(false, Some(0))).unwrap();
        assert_eq!(t.labels.unwrap().to_vec(), vec![7.0, 8.0]);
        assert_eq!(t.features.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
        let t = parse_csv_str("7,1,2\n8,3,4", opts(false, None)).unwrap();
        assert_eq!(t.features.shape(), &[2, 3]);
        assert!(t.labels.is_none());
        assert!(t.into_dataset().is_err());
        let t = parse_csv_str("7,1,2\n8,3,4", opts(false, Some(-2))).unwrap();
        assert_eq!(t.labels.unwrap().to_vec(), vec![1.0, 3.0]);
    }

    #[test]
    fn csv_crlf_bom_blank_lines_whitespace_and_quotes() {
        let text = "\u{feff}\"x, one\",\"y \"\"q\"\"\",z\r\n\r\n 1 , \"2\" ,3\r\n\n4,5,6\r\n  \n";
        let t = parse_csv_str(text, opts(true, None)).unwrap();
        assert_eq!(t.header.unwrap(), vec!["x, one", "y \"q\"", "z"]);
        assert_eq!(t.features.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // a quoted field spanning two lines (in the header) keeps line numbers right
        let e = parse_csv_str("\"a\nb\",c\n1,x\n", opts(true, None)).unwrap_err();
        assert_eq!(csv_pos(&e).0, 3);
    }

    #[test]
    fn csv_other_delimiters_and_special_numbers() {
        let t = parse_csv_str(
            "1;nan\n-inf;2",
            CsvOptions {
                delimiter: b';',
                ..opts(false, None)
            },
        )
        .unwrap();
        let v = t.features.to_vec();
        assert!(v[1].is_nan() && v[2] == f32::NEG_INFINITY);
        let t = parse_csv_str(
            "1\t2\n3\t4\n",
            CsvOptions {
                delimiter: b'\t',
                ..opts(false, None)
            },
        )
        .unwrap();
        assert_eq!(t.features.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
        assert!(parse_csv_str(
            "1",
            CsvOptions {
                delimiter: b'"',
                ..opts(false, None)
            }
        )
        .is_err());
        assert!(parse_csv_str(
            "1",
            CsvOptions {
                delimiter: 0xC3,
                ..opts(false, None)
            }
        )
        .is_err());
    }

    #[test]
    fn csv_parse_error_reports_line_column_and_text() {
        let e = parse_csv_str("a,b\n1,2\n3,abc\n", opts(true, None)).unwrap_err();
        let (line, col, msg) = csv_pos(&e);
        assert_eq!((line, col), (3, 2));
        assert!(msg.contains("`abc`"), "{msg}");
        assert!(e.to_string().starts_with("<string>:3:2:"), "{e}");
        let e = parse_csv_str("1,2\n\n3,\n", opts(false, None)).unwrap_err();
        let (line, col, msg) = csv_pos(&e);
        assert_eq!((line, col), (3, 2));
        assert!(msg.contains("empty field"));
        let long = "x".repeat(100);
        let e = parse_csv_str(&format!("1,{long}"), opts(false, None)).unwrap_err();
        assert!(csv_pos(&e).2.len() < 100);
    }

    #[test]
    fn csv_ragged_rows_name_the_line() {
        let e = parse_csv_str("1,2,3\n4,5\n", opts(false, None)).unwrap_err();
        let (line, col, msg) = csv_pos(&e);
        assert_eq!((line, col), (2, 3));
        assert!(
            msg.contains("expected 3 fields") && msg.contains("found 2"),
            "{msg}"
        );
        let e = parse_csv_str("1,2\n3,4\n5,6,7\n", opts(false, None)).unwrap_err();
        assert_eq!(csv_pos(&e).0, 3);
        let e = parse_csv_str("1,2,\n", opts(false, None)).unwrap_err();
        assert!(csv_pos(&e).2.contains("empty"));
    }

    #[test]
    fn csv_quote_errors() {
        let e = parse_csv_str("1,\"2\n3,4\n", opts(false, None)).unwrap_err();
        let (line, col, msg) = csv_pos(&e);
        assert_eq!((line, col), (1, 2));
        assert!(msg.contains("unterminated"));
        let e = parse_csv_str("1,\"2\"x\n", opts(false, None)).unwrap_err();
        assert!(csv_pos(&e).2.contains("`x`"));
    }

    #[test]
    fn csv_label_column_out_of_range_and_empty_input() {
        let e = parse_csv_str("1,2\n", opts(false, Some(2))).unwrap_err();
        assert!(csv_pos(&e).2.contains("out of range"));
        assert!(parse_csv_str("1,2\n", opts(false, Some(-3))).is_err());
        let t = parse_csv_str("", opts(true, Some(-1))).unwrap();
        assert_eq!(t.features.shape(), &[0, 0]);
        let t = parse_csv_str("a,b\n", opts(true, Some(-1))).unwrap();
        assert_eq!(t.features.shape(), &[0, 1]);
        assert_eq!(t.labels.unwrap().shape(), &[0]);
    }

    #[test]
    fn csv_read_file_plain_gzip_missing_and_bad_utf8() {
        use std::io::Write;
        let dir = crate::test_util::temp_dir("csv");
        let plain = dir.join("t.csv");
        std::fs::write(&plain, "1,2,0\n3,4,1\n").unwrap();
        let t = read_csv(&plain, CsvOptions::default()).unwrap();
        assert_eq!(t.features.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
        let gz = dir.join("t.data"); // gzip detected by content, not name
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"5,6,1\n").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let t = read_csv(&gz, CsvOptions::default()).unwrap();
        assert_eq!(t.labels.unwrap().to_vec(), vec![1.0]);
        let e = read_csv(dir.join("nope.csv"), CsvOptions::default()).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }) && e.to_string().contains("nope.csv"));
        let bad = dir.join("bad.csv");
        std::fs::write(&bad, b"1,2\n3,\xff\n").unwrap();
        let e = read_csv(&bad, CsvOptions::default()).unwrap_err();
        assert_eq!(csv_pos(&e).0, 2);
        assert_eq!(csv_pos(&e).1, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

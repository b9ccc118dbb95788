//! A reader for IDX files, the format of MNIST, Fashion-MNIST and their relatives.
//!
//! An IDX file is a 4-byte magic number `0x00 0x00 <type> <ndims>`, then `ndims` big-endian
//! `u32` dimension sizes, then the elements in row-major order, big-endian. Files may be
//! gzipped; compression is detected by the gzip magic bytes `1f 8b`, not by the file name.
//!
//! The header is validated, and the payload size it implies is checked against the data that
//! is actually there before the payload is stored: for a plain file against the file size
//! (before allocating anything), for a gzipped file by decompressing at most one byte more
//! than expected (and an implied size beyond what the compressed file could possibly hold
//! is rejected up front). Every error names the file and the byte offset (in the
//! decompressed stream for gzipped files).

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

use crate::{DataError, Result};

/// The element type of an IDX file (the third magic byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdxType {
    /// `0x08`: unsigned byte (images and labels of the MNIST family).
    U8,
    /// `0x09`: signed byte.
    I8,
    /// `0x0B`: big-endian `i16`.
    I16,
    /// `0x0C`: big-endian `i32`.
    I32,
    /// `0x0D`: big-endian `f32`.
    F32,
    /// `0x0E`: big-endian `f64`.
    F64,
}

impl IdxType {
    /// The type for a magic type byte, if it is one of the six IDX types.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    /// The magic type byte.
    pub fn code(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }
}

/// The contents of an IDX file of any element type.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// The dimension sizes.
    pub dims: Vec<usize>,
    /// The element type.
    pub dtype: IdxType,
    /// The raw payload: `dims.product() * dtype.size()` bytes, elements big-endian.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the array holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements converted to `f32` (raw values: bytes stay 0..255).
    pub fn to_f32(&self) -> Vec<f32> {
        let d = &self.data;
        match self.dtype {
            IdxType::U8 => d.iter().map(|&b| f32::from(b)).collect(),
            IdxType::I8 => d.iter().map(|&b| f32::from(b as i8)).collect(),
            IdxType::I16 => d
                .chunks_exact(2)
                .map(|c| f32::from(i16::from_be_bytes([c[0], c[1]])))
                .collect(),
            IdxType::I32 => d
                .chunks_exact(4)
                .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            IdxType::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            IdxType::F64 => d
                .chunks_exact(8)
                .map(|c| {
                    f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32
                })
                .collect(),
        }
    }
}

/// Reads an IDX file of unsigned bytes (type `0x08`, as MNIST images and labels), plain or
/// gzipped: the dimension sizes and the bytes in row-major order. An error naming the file
/// and byte offset if the file is malformed or of another element type
/// (use [`read_idx_array`] for those).
pub fn read_idx(path: impl AsRef<Path>) -> Result<(Vec<usize>, Vec<u8>)> {
    let path = path.as_ref();
    let array = read_idx_array(path)?;
    if array.dtype != IdxType::U8 {
        return Err(DataError::Idx {
            path: path.to_path_buf(),
            offset: 2,
            message: format!(
                "element type {:?} (0x{:02X}); expected unsigned bytes (0x08)",
                array.dtype,
                array.dtype.code()
            ),
        });
    }
    Ok((array.dims, array.data))
}

/// Reads an IDX file of any element type, plain or gzipped; see the [module docs](self).
pub fn read_idx_array(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let io_err = |e| DataError::io(path, e);
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut head = [0u8; 2];
    let got = read_full(&mut reader, &mut head).map_err(io_err)?;
    let stream = Cursor::new(head[..got].to_vec()).chain(reader);
    if got == 2 && head == [0x1f, 0x8b] {
        let decoder = flate2::read::MultiGzDecoder::new(stream);
        parse(
            decoder,
            path,
            Source::Gzip {
                compressed_len: file_len,
            },
        )
    } else {
        parse(stream, path, Source::Plain { file_len })
    }
}

/// Where the IDX bytes come from.
#[derive(Clone, Copy)]
enum Source {
    Plain { file_len: u64 },
    Gzip { compressed_len: u64 },
}

/// Upper bound on deflate's expansion ratio (its maximum is about 1032:1).
const MAX_GZIP_RATIO: u64 = 1100;

/// Reads until `buf` is full or the stream ends; returns the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn parse(mut r: impl Read, path: &Path, source: Source) -> Result<IdxArray> {
    let err = |offset: u64, message: String| DataError::Idx {
        path: path.to_path_buf(),
        offset,
        message,
    };
    let gz = matches!(source, Source::Gzip { .. });
    let read_err = |offset: u64, e: std::io::Error| {
        if gz {
            err(offset, format!("corrupt gzip stream: {e}"))
        } else {
            DataError::io(path, e)
        }
    };

    let mut magic = [0u8; 4];
    let got = read_full(&mut r, &mut magic).map_err(|e| read_err(0, e))?;
    if got < 4 {
        return Err(err(
            got as u64,
            format!("file ends inside the 4-byte magic number ({got} bytes)"),
        ));
    }
    for (i, &b) in magic[..2].iter().enumerate() {
        if b != 0 {
            return Err(err(
                i as u64,
                format!(
                    "not an IDX file: magic number {:02x} {:02x} {:02x} {:02x} does not start \
                     with 00 00",
                    magic[0], magic[1], magic[2], magic[3]
                ),
            ));
        }
    }
    let dtype = IdxType::from_code(magic[2]).ok_or_else(|| {
        err(
            2,
            format!(
                "unknown element type 0x{:02X} (expected 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, \
                 0x0D f32 or 0x0E f64)",
                magic[2]
            ),
        )
    })?;
    let ndims = usize::from(magic[3]);
    if ndims == 0 {
        return Err(err(3, "zero dimensions".into()));
    }
    let mut dim_bytes = vec![0u8; 4 * ndims];
    let got = read_full(&mut r, &mut dim_bytes).map_err(|e| read_err(4, e))?;
    if got < dim_bytes.len() {
        return Err(err(
            4 + got as u64,
            format!(
                "file ends inside the dimension sizes ({ndims} dimensions need {} bytes)",
                4 * ndims
            ),
        ));
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let header_len = 4 + 4 * ndims as u64;
    let expected = dims
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .filter(|&e| u64::try_from(e).is_ok())
        .ok_or_else(|| {
            err(
                4,
                format!("dimensions {dims:?} describe an impossibly large array"),
            )
        })? as u64;
    let describe = || {
        format!(
            "dimensions {dims:?} of {:?} need {expected} bytes of data",
            dtype
        )
    };

    let data = match source {
        Source::Plain { file_len } => {
            let available = file_len.saturating_sub(header_len);
            if available < expected {
                return Err(err(
                    file_len,
                    format!(
                        "file is truncated: it ends {} bytes short ({}, {available} present after \
                         the {header_len}-byte header)",
                        expected - available,
                        describe()
                    ),
                ));
            }
            if available > expected {
                return Err(err(
                    header_len + expected,
                    format!(
                        "{} unexpected bytes after the data ({})",
                        available - expected,
                        describe()
                    ),
                ));
            }
            // The size is verified against the file, so the allocation is backed by real data.
            let mut data = vec![0u8; expected as usize];
            let got = read_full(&mut r, &mut data).map_err(|e| DataError::io(path, e))?;
            if (got as u64) < expected {
                return Err(err(
                    header_len + got as u64,
                    "file shrank while being read".into(),
                ));
            }
            data
        }
        Source::Gzip { compressed_len } => {
            let most = compressed_len
                .saturating_mul(MAX_GZIP_RATIO)
                .saturating_add(1 << 16);
            if expected > most {
                return Err(err(
                    header_len,
                    format!(
                        "file is truncated: {} but a {compressed_len}-byte gzip file cannot hold \
                         that much",
                        describe()
                    ),
                ));
            }
            let mut data = Vec::with_capacity(expected as usize);
            let mut limited = (&mut r).take(expected.saturating_add(1));
            if let Err(e) = limited.read_to_end(&mut data) {
                return Err(err(
                    header_len + data.len() as u64,
                    format!("corrupt gzip stream: {e}"),
                ));
            }
            let got = data.len() as u64;
            if got < expected {
                return Err(err(
                    header_len + got,
                    format!(
                        "file is truncated: the data ends {} bytes short ({})",
                        expected - got,
                        describe()
                    ),
                ));
            }
            if got > expected {
                return Err(err(
                    header_len + expected,
                    format!("unexpected bytes after the data ({})", describe()),
                ));
            }
            // Drain the rest of the stream so that the gzip checksum is verified.
            let mut rest = [0u8; 1];
            match r.read(&mut rest) {
                Ok(0) => {}
                Ok(_) => {
                    return Err(err(
                        header_len + expected,
                        format!("unexpected bytes after the data ({})", describe()),
                    ))
                }
                Err(e) => {
                    return Err(err(
                        header_len + expected,
                        format!("corrupt gzip stream: {e}"),
                    ))
                }
            }
            data
        }
    };
    Ok(IdxArray { dims, dtype, data })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    /// The bytes of an IDX file.
    pub(crate) fn idx_bytes(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, code, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(payload);
        v
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn offset_of(e: &DataError) -> u64 {
        match e {
            DataError::Idx { offset, .. } => *offset,
            other => panic!("not an IDX error: {other}"),
        }
    }

    #[test]
    fn idx_reads_plain_and_gzip_alike() {
        let dir = crate::test_util::temp_dir("idx-ok");
        let payload: Vec<u8> = (0..24).collect();
        let bytes = idx_bytes(0x08, &[2, 3, 4], &payload);
        let plain = write(&dir, "a.gz", &bytes); // a misleading name: content decides
        let gz = write(&dir, "b.idx", &gzip(&bytes));
        for p in [&plain, &gz] {
            let (dims, data) = read_idx(p).unwrap();
            assert_eq!(dims, vec![2, 3, 4]);
            assert_eq!(data, payload);
        }
        // labels: one dimension
        let p = write(&dir, "l", &idx_bytes(0x08, &[3], &[7, 0, 9]));
        assert_eq!(read_idx(&p).unwrap(), (vec![3], vec![7, 0, 9]));
        // zero-size dimension
        let p = write(&dir, "z", &idx_bytes(0x08, &[0, 28], &[]));
        assert_eq!(read_idx(&p).unwrap(), (vec![0, 28], vec![]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn idx_f32_and_other_types() {
        let dir = crate::test_util::temp_dir("idx-f32");
        let vals = [1.5f32, -2.0, 0.25];
        let payload: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
        let p = write(&dir, "f", &gzip(&idx_bytes(0x0D, &[3], &payload)));
        let a = read_idx_array(&p).unwrap();
        assert_eq!(a.dtype, IdxType::F32);
        assert_eq!(a.to_f32(), vals.to_vec());
        let e = read_idx(&p).unwrap_err();
        assert_eq!(offset_of(&e), 2);
        assert!(e.to_string().contains("F32"), "{e}");
        let p = write(
            &dir,
            "i16",
            &idx_bytes(0x0B, &[2], &[0xFF, 0xFE, 0x01, 0x00]),
        );
        assert_eq!(read_idx_array(&p).unwrap().to_f32(), vec![-2.0, 256.0]);
        let p = write(&dir, "i8", &idx_bytes(0x09, &[1], &[0xFF]));
        assert_eq!(read_idx_array(&p).unwrap().to_f32(), vec![-1.0]);
        for t in [
            IdxType::U8,
            IdxType::I8,
            IdxType::I16,
            IdxType::I32,
            IdxType::F32,
            IdxType::F64,
        ] {
            assert_eq!(IdxType::from_code(t.code()), Some(t));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn idx_header_errors_name_offsets() {
        let dir = crate::test_util::temp_dir("idx-hdr");
        let cases: [(&[u8], u64); 6] = [
            (&[1, 0, 8, 1, 0, 0, 0, 0], 0),    // bad first magic byte
            (&[0, 7, 8, 1, 0, 0, 0, 0], 1),    // bad second magic byte
            (&[0, 0, 0x42, 1, 0, 0, 0, 0], 2), // unknown type
            (&[0, 0, 8, 0], 3),                // zero dimensions
            (&[0, 0, 8], 3),                   // short magic
            (&[0, 0, 8, 2, 0, 0, 0, 1, 0], 9), // short dimension table
        ];
        for (i, (bytes, off)) in cases.iter().enumerate() {
            for (kind, data) in [("plain", bytes.to_vec()), ("gz", gzip(bytes))] {
                let p = write(&dir, &format!("{kind}{i}"), &data);
                let e = read_idx(&p).unwrap_err();
                assert_eq!(offset_of(&e), *off, "case {i} {kind}: {e}");
                assert!(e.to_string().contains(&format!("{kind}{i}")), "{e}");
            }
        }
        // product overflow
        let p = write(&dir, "huge", &idx_bytes(0x0E, &[u32::MAX; 4], &[]));
        assert!(read_idx_array(&p)
            .unwrap_err()
            .to_string()
            .contains("impossibly large"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn idx_truncated_and_trailing_payloads() {
        let dir = crate::test_util::temp_dir("idx-len");
        let short = idx_bytes(0x08, &[2, 5], &[1; 9]); // 12-byte header + 9 of 10 bytes
        let long = idx_bytes(0x08, &[2, 5], &[1; 11]);
        let e = read_idx(write(&dir, "s", &short)).unwrap_err();
        assert_eq!(offset_of(&e), 21);
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = read_idx(write(&dir, "sg", &gzip(&short))).unwrap_err();
        assert_eq!(offset_of(&e), 21);
        let e = read_idx(write(&dir, "l", &long)).unwrap_err();
        assert_eq!(offset_of(&e), 22);
        assert!(e.to_string().contains("unexpected bytes"), "{e}");
        let e = read_idx(write(&dir, "lg", &gzip(&long))).unwrap_err();
        assert_eq!(offset_of(&e), 22);
        // a header promising 4 GiB in a tiny plain or gzipped file fails before allocating
        let lie = idx_bytes(0x08, &[65536, 65536], &[0; 8]);
        let e = read_idx(write(&dir, "lie", &lie)).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = read_idx(write(&dir, "lieg", &gzip(&lie))).unwrap_err();
        assert!(e.to_string().contains("cannot hold"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn idx_corrupt_and_cut_gzip() {
        let dir = crate::test_util::temp_dir("idx-gz");
        let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 251) as u8).collect();
        let good = gzip(&idx_bytes(0x08, &[40, 100], &payload));
        // cut the compressed stream in half
        let e = read_idx(write(&dir, "cut", &good[..good.len() / 2])).unwrap_err();
        assert!(matches!(e, DataError::Idx { .. }), "{e}");
        // flip bits in the deflate data: a decode error or a checksum mismatch
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        for b in &mut bad[mid..mid + 8] {
            *b ^= 0x5A;
        }
        assert!(read_idx(write(&dir, "flip", &bad)).is_err());
        // damage only the CRC trailer: detected because the stream is drained
        let mut crc = good.clone();
        let n = crc.len();
        crc[n - 8] ^= 0xFF;
        assert!(read_idx(write(&dir, "crc", &crc)).is_err());
        // a file of just the gzip magic
        assert!(read_idx(write(&dir, "magic", &[0x1f, 0x8b])).is_err());
        // empty and missing files
        let e = read_idx(write(&dir, "empty", &[])).unwrap_err();
        assert_eq!(offset_of(&e), 0);
        let e = read_idx(dir.join("missing")).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

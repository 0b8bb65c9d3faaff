//! Reader for CTranslate2's `model.bin` (binary version 6 as written by ctranslate2 ≥ 3).
//!
//! The header is parsed once into an index of variables (shape, type, file offset); tensor data
//! is read on demand with a seek, so converting a large model never holds it all in memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use half::{bf16, f16};

use super::error::ModelError;

/// Element types of CTranslate2 variables (`ctranslate2::DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Dtype {
    fn from_code(code: u8) -> Option<Dtype> {
        Some(match code {
            0 => Dtype::F32,
            1 => Dtype::I8,
            2 => Dtype::I16,
            3 => Dtype::I32,
            4 => Dtype::F16,
            5 => Dtype::Bf16,
            _ => return None,
        })
    }

    pub(crate) fn size(self) -> usize {
        match self {
            Dtype::I8 => 1,
            Dtype::I16 | Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::F32 | Dtype::I32 => 4,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::F16 => "float16",
            Dtype::Bf16 => "bfloat16",
        }
    }
}

/// One variable of the model: where its data is and how to read it.
#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    offset: u64,
}

impl Var {
    /// Number of rows (first dimension; 1 for scalars).
    pub(crate) fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Elements per row (product of the other dimensions).
    pub(crate) fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
}

/// An opened CTranslate2 model: the variable index and the open file.
pub(crate) struct Ct2File {
    path: PathBuf,
    file: File,
    pub vars: BTreeMap<String, Var>,
}

/// CTranslate2 binary versions this reader understands (types and byte sizes are stored from 4).
const VERSIONS: Range<u32> = 4..7;
/// Sanity bounds so that a random file fails fast instead of allocating gigabytes.
const MAX_VARS: u32 = 1_000_000;
const MAX_RANK: u8 = 8;

impl Ct2File {
    /// Opens `path` and indexes its variables, checking that every variable's data is inside the
    /// file (a model split in parts is detected here, not half-way through the conversion).
    pub(crate) fn open(path: &Path) -> Result<Ct2File, ModelError> {
        let file = File::open(path).map_err(ModelError::io(path))?;
        let len = file.metadata().map_err(ModelError::io(path))?.len();
        let mut r = Header {
            r: BufReader::new(file),
            path,
            pos: 0,
        };
        let not_ct2 = |reason: String| ModelError::NotCt2 {
            path: path.to_path_buf(),
            reason,
        };
        if len < 16 {
            return Err(not_ct2(format!("only {len} bytes")));
        }
        let version = r.u32()?;
        if !VERSIONS.contains(&version) {
            return Err(not_ct2(format!(
                "binary version {version} (this importer reads {}..={})",
                VERSIONS.start,
                VERSIONS.end - 1
            )));
        }
        let spec = r
            .string()
            .map_err(|_| not_ct2("unreadable spec name".into()))?;
        if spec != "WhisperSpec" {
            return Err(ModelError::NotWhisper {
                path: path.to_path_buf(),
                spec,
            });
        }
        let _revision = r.u32()?;
        let n_vars = r.u32()?;
        if n_vars > MAX_VARS {
            return Err(not_ct2(format!("{n_vars} variables announced")));
        }
        let total = n_vars as usize;
        let mut vars = BTreeMap::new();
        for index in 0..total {
            let truncated = |name: &str| ModelError::Truncated {
                path: path.to_path_buf(),
                index,
                total,
                name: name.to_string(),
            };
            let name = r.string().map_err(|_| truncated(""))?;
            let var = r.var(len).map_err(|e| match e {
                HeaderError::Eof => truncated(&name),
                HeaderError::Bad(reason) => not_ct2(format!("variable {name}: {reason}")),
            })?;
            vars.insert(name, var);
        }
        let file = r.r.into_inner();
        Ok(Ct2File {
            path: path.to_path_buf(),
            file,
            vars,
        })
    }

    /// The variable `name`, or a `MissingVariable` error.
    pub(crate) fn var(&self, name: &str) -> Result<&Var, ModelError> {
        self.vars
            .get(name)
            .ok_or_else(|| ModelError::MissingVariable {
                name: name.to_string(),
            })
    }

    /// Reads a scalar integer variable such as `encoder/num_heads`.
    pub(crate) fn scalar_int(&mut self, name: &str) -> Result<i64, ModelError> {
        let var = self.var(name)?.clone();
        if var.shape.iter().product::<usize>() != 1 {
            return Err(ModelError::BadShape {
                name: name.into(),
                expected: vec![],
                found: var.shape,
            });
        }
        let bytes = self.read_bytes(var.offset, var.dtype.size())?;
        Ok(match var.dtype {
            Dtype::I8 => i64::from(bytes[0] as i8),
            Dtype::I16 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
            Dtype::I32 => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
            other => {
                return Err(ModelError::UnsupportedDtype {
                    name: name.into(),
                    dtype: other.name().into(),
                    why: "expected an integer scalar",
                })
            }
        })
    }

    /// Raw little-endian bytes of rows `rows` of variable `name` (all rows if `None`).
    pub(crate) fn raw_rows(
        &mut self,
        name: &str,
        rows: Option<Range<usize>>,
    ) -> Result<(Vec<u8>, Dtype), ModelError> {
        let var = self.var(name)?.clone();
        let rows = rows.unwrap_or(0..var.rows());
        let row_bytes = (var.row_len() * var.dtype.size()) as u64;
        let start = var.offset + rows.start as u64 * row_bytes;
        let bytes = self.read_bytes(start, rows.len() * row_bytes as usize)?;
        Ok((bytes, var.dtype))
    }

    /// Rows `rows` of variable `name` as f32, dequantizing int8/int16 with the variable's
    /// `<name>_scale` companion (CTranslate2 stores `w * scale` rounded, per row for int8).
    pub(crate) fn f32_rows(
        &mut self,
        name: &str,
        rows: Option<Range<usize>>,
    ) -> Result<Vec<f32>, ModelError> {
        let var = self.var(name)?.clone();
        let rows = rows.unwrap_or(0..var.rows());
        let (bytes, dtype) = self.raw_rows(name, Some(rows.clone()))?;
        Ok(match dtype {
            Dtype::F32 => chunks::<4>(&bytes).map(f32::from_le_bytes).collect(),
            Dtype::F16 => chunks::<2>(&bytes)
                .map(|b| f16::from_le_bytes(b).to_f32())
                .collect(),
            Dtype::Bf16 => chunks::<2>(&bytes)
                .map(|b| bf16::from_le_bytes(b).to_f32())
                .collect(),
            Dtype::I8 | Dtype::I16 => {
                let scale_name = format!("{name}_scale");
                if !self.vars.contains_key(&scale_name) {
                    return Err(ModelError::UnsupportedDtype {
                        name: name.into(),
                        dtype: dtype.name().into(),
                        why: "quantized weights without a scale variable; export the model \
                              with ct2-transformers-converter --quantization float16",
                    });
                }
                let scales = self.f32_rows(&scale_name, None)?;
                if scales.len() != 1 && scales.len() != var.rows() {
                    return Err(ModelError::BadShape {
                        name: scale_name,
                        expected: vec![var.rows()],
                        found: vec![scales.len()],
                    });
                }
                let q: Vec<f32> = if dtype == Dtype::I8 {
                    bytes.iter().map(|&b| f32::from(b as i8)).collect()
                } else {
                    chunks::<2>(&bytes)
                        .map(|b| f32::from(i16::from_le_bytes(b)))
                        .collect()
                };
                let row_len = var.row_len().max(1);
                q.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let row = rows.start + i / row_len;
                        let s = if scales.len() == 1 {
                            scales[0]
                        } else {
                            scales[row]
                        };
                        v / s
                    })
                    .collect()
            }
            Dtype::I32 => {
                return Err(ModelError::UnsupportedDtype {
                    name: name.into(),
                    dtype: dtype.name().into(),
                    why: "int32 is not a weight type",
                })
            }
        })
    }

    fn read_bytes(&mut self, offset: u64, n: usize) -> Result<Vec<u8>, ModelError> {
        let mut buf = vec![0u8; n];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut buf))
            .map_err(ModelError::io(&self.path))?;
        Ok(buf)
    }
}

/// Iterates over fixed-size little-endian chunks.
fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

enum HeaderError {
    Eof,
    Bad(String),
}

/// Sequential header parser that skips over tensor data.
struct Header<'p> {
    r: BufReader<File>,
    path: &'p Path,
    pos: u64,
}

impl Header<'_> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], HeaderError> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b).map_err(|_| HeaderError::Eof)?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        self.bytes::<4>()
            .map(u32::from_le_bytes)
            .map_err(|_| ModelError::NotCt2 {
                path: self.path.to_path_buf(),
                reason: "header ends early".into(),
            })
    }

    /// `u16 len` + `len` bytes including a trailing NUL.
    fn string(&mut self) -> Result<String, HeaderError> {
        let len = u16::from_le_bytes(self.bytes::<2>()?) as usize;
        let mut b = vec![0u8; len];
        self.r.read_exact(&mut b).map_err(|_| HeaderError::Eof)?;
        self.pos += len as u64;
        if b.pop() != Some(0) {
            return Err(HeaderError::Bad("string without NUL terminator".into()));
        }
        String::from_utf8(b).map_err(|_| HeaderError::Bad("name is not UTF-8".into()))
    }

    fn var(&mut self, file_len: u64) -> Result<Var, HeaderError> {
        let rank = self.bytes::<1>()?[0];
        if rank > MAX_RANK {
            return Err(HeaderError::Bad(format!("rank {rank}")));
        }
        let mut shape = Vec::with_capacity(rank as usize);
        for _ in 0..rank {
            shape.push(u32::from_le_bytes(self.bytes::<4>()?) as usize);
        }
        let code = self.bytes::<1>()?[0];
        let dtype =
            Dtype::from_code(code).ok_or_else(|| HeaderError::Bad(format!("type code {code}")))?;
        let nbytes = u64::from(u32::from_le_bytes(self.bytes::<4>()?));
        let expected = shape.iter().product::<usize>() as u64 * dtype.size() as u64;
        if nbytes != expected {
            return Err(HeaderError::Bad(format!(
                "{nbytes} bytes for shape {shape:?} of {}",
                dtype.name()
            )));
        }
        let offset = self.pos;
        if offset + nbytes > file_len {
            return Err(HeaderError::Eof);
        }
        self.r
            .seek_relative(nbytes as i64)
            .map_err(|_| HeaderError::Eof)?;
        self.pos += nbytes;
        Ok(Var {
            shape,
            dtype,
            offset,
        })
    }
}

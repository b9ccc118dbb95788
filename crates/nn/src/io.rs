//! Saving and loading models and weights.
//!
//! File layout (all integers little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic: `NNMODEL\0` (whole model) or `NNWEIGHT` (weights only) |
//! | 8..12 | format version (`FORMAT_VERSION`) |
//! | 12..16 | element type: 0 = f32, 1 = f64 |
//! | 16..24 | payload length in bytes |
//! | 24..28 | CRC-32 of the payload |
//! | 28.. | payload: `bincode` (fixed-width integers) of the model or the weights |
//!
//! Loading checks the magic, the version, the element type, that the payload length equals
//! the file's real remaining size, and the checksum, all before decoding; the decoder runs
//! with a size limit equal to that length, so no length field can make it allocate more than
//! the file holds. Saving writes a temporary file beside the target, syncs it and renames it
//! over the target: a crash or error leaves the previous file untouched and no temporary file.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bincode::Options;
use nn_layers::SavedLayer;
use nn_losses::SavedLoss;
use nn_optim::SavedOptimizer;
use nn_tensor::{Float, Tensor};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::graph::Graph;
use crate::train::Compiled;
use crate::{Error, Model, Result};

/// The version written by this build; files of a later version are refused with a clear error.
pub const FORMAT_VERSION: u32 = 1;
const MODEL_MAGIC: &[u8; 8] = b"NNMODEL\0";
const WEIGHTS_MAGIC: &[u8; 8] = b"NNWEIGHT";
const HEADER_LEN: usize = 28;

#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
struct SavedModel<T: Float> {
    name: String,
    layers: Vec<SavedLayer<T>>,
    graph: Graph,
    training: Option<SavedTraining>,
}

#[derive(Serialize, Deserialize)]
struct SavedTraining {
    optimizer: SavedOptimizer,
    loss: SavedLoss,
    metrics: Vec<(String, String)>,
    /// The model's random stream (Dropout masks, shuffling), so training resumes exactly.
    rng: nn_tensor::random::RngState,
}

#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "T: Float", deserialize = "T: Float"))]
struct SavedWeights<T: Float> {
    weights: Vec<(String, Tensor<T>)>,
}

fn codec(limit: u64) -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(limit)
}

fn dtype_code<T: Float>() -> u32 {
    if T::NAME == "f64" {
        1
    } else {
        0
    }
}

fn format_err(path: &Path, offset: u64, message: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        offset,
        message: message.into(),
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `magic + header + payload` to `path` atomically.
fn write_framed(path: &Path, magic: &[u8; 8], dtype: u32, payload: &[u8]) -> Result<()> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes.extend_from_slice(&dtype.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let temp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let written = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(io(e));
    }
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(io(e));
    }
    Ok(())
}

/// Reads and validates a framed file, returning its payload.
fn read_framed(path: &Path, magic: &[u8; 8], dtype: u32) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size < HEADER_LEN as u64 {
        return Err(format_err(
            path,
            size,
            format!("file of {size} bytes is too short for the {HEADER_LEN}-byte header"),
        ));
    }
    let mut header = [0u8; HEADER_LEN];
    file.read_exact(&mut header).map_err(io)?;
    if &header[0..8] != magic {
        let other = if magic == MODEL_MAGIC {
            WEIGHTS_MAGIC
        } else {
            MODEL_MAGIC
        };
        let what = if &header[0..8] == other {
            if magic == MODEL_MAGIC {
                "this is a weights file: use load_weights"
            } else {
                "this is a whole-model file: use Model::load"
            }
        } else {
            "not an nn file (wrong magic number)"
        };
        return Err(format_err(path, 0, what));
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let version = word(8);
    if version == 0 || version > FORMAT_VERSION {
        return Err(format_err(
            path,
            8,
            format!(
                "format version {version}; this build of nn reads versions 1 to {FORMAT_VERSION}"
            ),
        ));
    }
    let file_dtype = word(12);
    if file_dtype != dtype {
        let name = |c: u32| match c {
            0 => "f32".to_string(),
            1 => "f64".to_string(),
            other => format!("unknown type {other}"),
        };
        return Err(format_err(
            path,
            12,
            format!(
                "the file holds {} weights, {} were requested",
                name(file_dtype),
                name(dtype)
            ),
        ));
    }
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&header[16..24]);
    let len = u64::from_le_bytes(len_bytes);
    let available = size - HEADER_LEN as u64;
    if len != available {
        return Err(format_err(
            path,
            16,
            format!("the header announces a {len}-byte payload but {available} bytes follow (truncated or corrupted)"),
        ));
    }
    let crc = word(24);
    // The length now equals the real file size, so this allocation is bounded by the file.
    let mut payload = Vec::with_capacity(available as usize);
    file.read_to_end(&mut payload).map_err(io)?;
    if payload.len() as u64 != len {
        return Err(format_err(
            path,
            HEADER_LEN as u64,
            "the file changed while being read",
        ));
    }
    if crc32fast::hash(&payload) != crc {
        return Err(format_err(
            path,
            24,
            "checksum mismatch: the file is corrupted",
        ));
    }
    Ok(payload)
}

fn decode<D: DeserializeOwned>(path: &Path, payload: &[u8]) -> Result<D> {
    codec(payload.len() as u64)
        .deserialize(payload)
        .map_err(|e| {
            format_err(
                path,
                HEADER_LEN as u64,
                format!("payload does not decode: {e}"),
            )
        })
}

fn encode<S: Serialize>(path: &Path, value: &S) -> Result<Vec<u8>> {
    codec(u64::MAX).serialize(value).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

impl<T: Float> Model<T> {
    /// Saves the whole model — architecture, weights, optimizer state, loss and metrics —
    /// atomically (see the module docs for the format).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let training = self.compiled.as_ref().map(|c| SavedTraining {
            optimizer: c.optimizer.to_saved(),
            loss: c.loss.to_saved(),
            metrics: c
                .metrics
                .iter()
                .map(|(display, m)| (display.clone(), m.name().to_string()))
                .collect(),
            rng: self.rng.state(),
        });
        let saved = SavedModel {
            name: self.name.clone(),
            layers: self.layers.iter().map(|l| l.to_saved()).collect(),
            graph: self.graph.clone(),
            training,
        };
        write_framed(path, MODEL_MAGIC, dtype_code::<T>(), &encode(path, &saved)?)
    }

    /// Loads a model of element type `T` saved by [`Model::save`] (see [`Model::load`]).
    pub fn load_typed(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let payload = read_framed(path, MODEL_MAGIC, dtype_code::<T>())?;
        let saved: SavedModel<T> = decode(path, &payload)?;
        let layers: Vec<_> = saved.layers.into_iter().map(|l| l.into_layer()).collect();
        validate_graph(path, &saved.graph, layers.len())?;
        let mut model = Model::from_parts(&saved.name, layers, saved.graph);
        model.name = saved.name;
        if let Some(t) = saved.training {
            let optimizer = t.optimizer.into_optimizer::<T>()?;
            let loss = t.loss.into_loss::<T>();
            let metrics = t
                .metrics
                .into_iter()
                .map(|(display, name)| Ok((display, nn_losses::metric_from_name::<T>(&name)?)))
                .collect::<Result<Vec<_>>>()?;
            model.compiled = Some(Compiled {
                optimizer,
                loss,
                metrics,
            });
            model.rng = nn_tensor::random::Rng::from_state(&t.rng);
        }
        // The stored shapes must agree with the layers' weights: a file that decodes but does
        // not describe a consistent model is refused here rather than failing later.
        for node in &model.graph.nodes {
            if let crate::graph::NodeOp::Layer { layer, inputs } = &node.op {
                let shapes: Vec<_> = inputs
                    .iter()
                    .map(|r| model.graph.nodes[r.node].output_shapes[r.output].clone())
                    .collect();
                let out = model.layers[*layer].output_shapes(&shapes).map_err(|e| {
                    format_err(path, HEADER_LEN as u64, format!("inconsistent model: {e}"))
                })?;
                if out != node.output_shapes {
                    return Err(format_err(
                        path,
                        HEADER_LEN as u64,
                        "inconsistent model: stored shapes disagree with the layers",
                    ));
                }
            }
        }
        let probe: Vec<Tensor<T>> = model
            .graph
            .input_shapes
            .iter()
            .map(|s| {
                let mut full = vec![1];
                full.extend_from_slice(s);
                Tensor::zeros(full)
            })
            .collect();
        let refs: Vec<&Tensor<T>> = probe.iter().collect();
        model
            .predict_on_batch(&refs)
            .map_err(|e| format_err(path, HEADER_LEN as u64, format!("inconsistent model: {e}")))?;
        Ok(model)
    }

    /// Saves the weights alone, keyed `"layer/param"`, atomically.
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let saved = SavedWeights {
            weights: self
                .named_params()
                .into_iter()
                .map(|(k, p)| (k, p.value().clone()))
                .collect(),
        };
        write_framed(
            path,
            WEIGHTS_MAGIC,
            dtype_code::<T>(),
            &encode(path, &saved)?,
        )
    }

    /// Loads weights saved by [`Model::save_weights`] into this model: every parameter must
    /// be present with the same shape; on any mismatch nothing is changed.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let payload = read_framed(path, WEIGHTS_MAGIC, dtype_code::<T>())?;
        let saved: SavedWeights<T> = decode(path, &payload)?;
        let by_key: std::collections::HashMap<String, Tensor<T>> =
            saved.weights.into_iter().collect();
        let mut ordered = Vec::new();
        for (key, p) in self.named_params() {
            let Some(w) = by_key.get(&key) else {
                return Err(format_err(
                    path,
                    HEADER_LEN as u64,
                    format!("the file has no weight `{key}`"),
                ));
            };
            if w.shape() != p.value().shape() {
                return Err(format_err(
                    path,
                    HEADER_LEN as u64,
                    format!(
                        "weight `{key}` has shape {:?} in the file, {:?} in the model",
                        w.shape(),
                        p.value().shape()
                    ),
                ));
            }
            ordered.push(w.clone());
        }
        self.set_weights(&ordered)
    }
}

impl Model<f32> {
    /// Loads an `f32` model saved by [`Model::save`]. A truncated, corrupted, foreign or
    /// future file is an error naming the file and the byte offset; nothing panics.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_typed(path)
    }
}

fn validate_graph(path: &Path, graph: &Graph, layer_count: usize) -> Result<()> {
    use crate::graph::NodeOp;
    let bad = |m: &str| format_err(path, HEADER_LEN as u64, format!("invalid model graph: {m}"));
    let mut inputs_seen = 0;
    for (i, node) in graph.nodes.iter().enumerate() {
        match &node.op {
            NodeOp::Input { index } => {
                if *index >= graph.input_shapes.len() || node.output_shapes.len() != 1 {
                    return Err(bad("input node out of range"));
                }
                if node.output_shapes[0] != graph.input_shapes[*index] {
                    return Err(bad(
                        "input node shape disagrees with the model's input shape",
                    ));
                }
                inputs_seen += 1;
            }
            NodeOp::Layer { layer, inputs } => {
                if *layer >= layer_count {
                    return Err(bad("a node refers to a missing layer"));
                }
                for r in inputs {
                    if r.node >= i || r.output >= graph.nodes[r.node].output_shapes.len() {
                        return Err(bad("a node reads a later or missing output"));
                    }
                }
            }
        }
    }
    if inputs_seen != graph.input_shapes.len() || graph.outputs.is_empty() {
        return Err(bad("inputs or outputs missing"));
    }
    for r in &graph.outputs {
        if r.node >= graph.nodes.len() || r.output >= graph.nodes[r.node].output_shapes.len() {
            return Err(bad("an output refers to a missing node"));
        }
    }
    Ok(())
}

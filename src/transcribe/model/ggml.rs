//! The ggml whisper file (the classic `ggml` magic that whisper.cpp 1.8 loads) and the mapping
//! from CTranslate2 variable names to the tensor names whisper.cpp looks up.
//!
//! whisper.cpp checks every tensor's name, shape and type against the hyper-parameters, so the
//! plan below states for each tensor the exact numpy shape and ggml type it must have; a source
//! variable that does not fit is reported before anything is written.

use std::io::Write;
use std::ops::Range;

use half::f16;

use super::ct2::{Ct2File, Dtype};
use super::error::ModelError;
use super::quant::{Quantization, BLOCK};

/// `ggml` in ASCII, little-endian: the magic of whisper.cpp's model files.
pub(crate) const MAGIC: u32 = 0x6767_6d6c;
/// `ftype` of a file whose matrices are f16.
pub(crate) const FTYPE_F16: i32 = 1;
/// ggml's `GGML_QNT_VERSION_FACTOR` × `GGML_QNT_VERSION` (2): added to the `ftype` of quantized
/// files, as whisper.cpp's `quantize` tool writes it.
const QNT_VERSION: i32 = 1000 * 2;

/// ggml tensor element types used by whisper models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GgmlType {
    F32,
    F16,
    /// Block-quantized (matrices only).
    Quant(Quantization),
}

impl GgmlType {
    /// ggml's `ggml_type` number.
    fn id(self) -> i32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Quant(q) => q.ggml_type(),
        }
    }
}

/// The header's `ftype` for matrices of type `matrix`.
pub(crate) fn ftype(matrix: GgmlType) -> i32 {
    match matrix {
        GgmlType::Quant(q) => q.ftype() + QNT_VERSION,
        GgmlType::F32 => 0,
        GgmlType::F16 => FTYPE_F16,
    }
}

/// Model dimensions, in the order of the ggml header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hparams {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

/// One tensor of the output: where its data comes from and what it must look like.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// ggml tensor name.
    pub name: String,
    /// CTranslate2 variable it is read from.
    pub src: String,
    /// Shape the source variable must have.
    pub src_shape: Vec<usize>,
    /// Rows of the source taken (for the fused attention projections), all if `None`.
    pub rows: Option<Range<usize>>,
    /// numpy shape written (ggml `ne` is this reversed).
    pub shape: Vec<usize>,
    pub ty: GgmlType,
}

/// The full list of tensors whisper.cpp expects for `hp`, in file order, with the 2-D weight
/// matrices (projections, MLP, token embedding) in type `matrix`; whisper.cpp keeps the
/// convolutions f16 and everything else f32 whatever the file's type.
pub(crate) fn plan(hp: &Hparams, matrix: GgmlType) -> Vec<Planned> {
    let mut p = Plan(Vec::new(), matrix);
    let (a, t) = (hp.n_audio_state, hp.n_text_state);
    p.whole(
        "encoder.positional_embedding",
        "encoder/position_encodings/encodings",
        &[hp.n_audio_ctx, a],
        GgmlType::F32,
    );
    p.whole(
        "encoder.conv1.weight",
        "encoder/conv1/weight",
        &[a, hp.n_mels, 3],
        GgmlType::F16,
    );
    p.conv_bias("encoder.conv1.bias", "encoder/conv1/bias", a);
    p.whole(
        "encoder.conv2.weight",
        "encoder/conv2/weight",
        &[a, a, 3],
        GgmlType::F16,
    );
    p.conv_bias("encoder.conv2.bias", "encoder/conv2/bias", a);
    p.norm("encoder.ln_post", "encoder/layer_norm", a);
    for i in 0..hp.n_audio_layer {
        let (g, s) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
        p.block_common(&g, &s, a);
    }
    p.whole(
        "decoder.positional_embedding",
        "decoder/position_encodings/encodings",
        &[hp.n_text_ctx, t],
        GgmlType::F32,
    );
    p.whole(
        "decoder.token_embedding.weight",
        "decoder/embeddings/weight",
        &[hp.n_vocab, t],
        matrix,
    );
    p.norm("decoder.ln", "decoder/layer_norm", t);
    for i in 0..hp.n_text_layer {
        let (g, s) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
        p.block_common(&g, &s, t);
        // Cross-attention: query from the text state, fused key/value over the audio state.
        p.linear(
            &format!("{g}.cross_attn.query"),
            &format!("{s}/attention/linear_0"),
            t,
            None,
            true,
        );
        let kv = format!("{s}/attention/linear_1");
        p.linear(&format!("{g}.cross_attn.key"), &kv, t, Some((0, 2)), false);
        p.linear(&format!("{g}.cross_attn.value"), &kv, t, Some((1, 2)), true);
        p.linear(
            &format!("{g}.cross_attn.out"),
            &format!("{s}/attention/linear_2"),
            t,
            None,
            true,
        );
        p.norm(
            &format!("{g}.cross_attn_ln"),
            &format!("{s}/attention/layer_norm"),
            t,
        );
    }
    p.0
}

/// The tensors so far, and the type of weight matrices.
struct Plan(Vec<Planned>, GgmlType);

impl Plan {
    fn push(
        &mut self,
        name: String,
        src: String,
        src_shape: Vec<usize>,
        rows: Option<Range<usize>>,
        shape: Vec<usize>,
        ty: GgmlType,
    ) {
        self.0.push(Planned {
            name,
            src,
            src_shape,
            rows,
            shape,
            ty,
        });
    }

    fn whole(&mut self, name: &str, src: &str, shape: &[usize], ty: GgmlType) {
        self.push(
            name.into(),
            src.into(),
            shape.to_vec(),
            None,
            shape.to_vec(),
            ty,
        );
    }

    /// Conv biases are stored as (n_state, 1) f32 so that ggml can broadcast them over time.
    fn conv_bias(&mut self, name: &str, src: &str, n: usize) {
        self.push(
            name.into(),
            src.into(),
            vec![n],
            None,
            vec![n, 1],
            GgmlType::F32,
        );
    }

    fn norm(&mut self, name: &str, src: &str, n: usize) {
        self.whole(
            &format!("{name}.weight"),
            &format!("{src}/gamma"),
            &[n],
            GgmlType::F32,
        );
        self.whole(
            &format!("{name}.bias"),
            &format!("{src}/beta"),
            &[n],
            GgmlType::F32,
        );
    }

    /// A square `d × d` projection, optionally the `part`-th of `parts` fused row blocks.
    /// Keys have no bias in whisper; CTranslate2 stores zeros for it, which are dropped.
    fn linear(
        &mut self,
        name: &str,
        src: &str,
        d: usize,
        part: Option<(usize, usize)>,
        bias: bool,
    ) {
        let (rows, n_rows) = match part {
            Some((k, parts)) => (Some(k * d..(k + 1) * d), parts * d),
            None => (None, d),
        };
        self.push(
            format!("{name}.weight"),
            format!("{src}/weight"),
            vec![n_rows, d],
            rows.clone(),
            vec![d, d],
            self.1,
        );
        if bias {
            self.push(
                format!("{name}.bias"),
                format!("{src}/bias"),
                vec![n_rows],
                rows,
                vec![d],
                GgmlType::F32,
            );
        }
    }

    /// Self-attention and MLP, shared by encoder and decoder blocks.
    fn block_common(&mut self, g: &str, s: &str, d: usize) {
        let qkv = format!("{s}/self_attention/linear_0");
        self.linear(&format!("{g}.attn.query"), &qkv, d, Some((0, 3)), true);
        self.linear(&format!("{g}.attn.key"), &qkv, d, Some((1, 3)), false);
        self.linear(&format!("{g}.attn.value"), &qkv, d, Some((2, 3)), true);
        self.linear(
            &format!("{g}.attn.out"),
            &format!("{s}/self_attention/linear_1"),
            d,
            None,
            true,
        );
        self.norm(
            &format!("{g}.attn_ln"),
            &format!("{s}/self_attention/layer_norm"),
            d,
        );
        let ff = 4 * d;
        self.whole(
            &format!("{g}.mlp.0.weight"),
            &format!("{s}/ffn/linear_0/weight"),
            &[ff, d],
            self.1,
        );
        self.whole(
            &format!("{g}.mlp.0.bias"),
            &format!("{s}/ffn/linear_0/bias"),
            &[ff],
            GgmlType::F32,
        );
        self.whole(
            &format!("{g}.mlp.2.weight"),
            &format!("{s}/ffn/linear_1/weight"),
            &[d, ff],
            self.1,
        );
        self.whole(
            &format!("{g}.mlp.2.bias"),
            &format!("{s}/ffn/linear_1/bias"),
            &[d],
            GgmlType::F32,
        );
        self.norm(&format!("{g}.mlp_ln"), &format!("{s}/ffn/layer_norm"), d);
    }
}

/// Checks that every planned source exists with the shape the plan needs.
pub(crate) fn check_sources(model: &Ct2File, plan: &[Planned]) -> Result<(), ModelError> {
    for t in plan {
        let var = model.var(&t.src)?;
        if var.shape != t.src_shape {
            return Err(ModelError::BadShape {
                name: t.src.clone(),
                expected: t.src_shape.clone(),
                found: var.shape.clone(),
            });
        }
    }
    Ok(())
}

fn i32_of(v: usize) -> [u8; 4] {
    (v as i32).to_le_bytes()
}

/// Writes the header, the mel filterbank and the vocabulary.
pub(crate) fn write_preamble(
    w: &mut impl Write,
    hp: &Hparams,
    ftype: i32,
    mel: &[f32],
    vocab: &[Vec<u8>],
) -> std::io::Result<()> {
    w.write_all(&MAGIC.to_le_bytes())?;
    for v in [
        hp.n_vocab,
        hp.n_audio_ctx,
        hp.n_audio_state,
        hp.n_audio_head,
        hp.n_audio_layer,
        hp.n_text_ctx,
        hp.n_text_state,
        hp.n_text_head,
        hp.n_text_layer,
        hp.n_mels,
    ] {
        w.write_all(&i32_of(v))?;
    }
    w.write_all(&ftype.to_le_bytes())?;
    w.write_all(&i32_of(hp.n_mels))?;
    w.write_all(&i32_of(super::mel::N_FREQS))?;
    for v in mel {
        w.write_all(&v.to_le_bytes())?;
    }
    w.write_all(&i32_of(vocab.len()))?;
    for token in vocab {
        w.write_all(&i32_of(token.len()))?;
        w.write_all(token)?;
    }
    Ok(())
}

/// The bytes of one planned tensor in its ggml type. f16 sources going to f16 are copied as is.
pub(crate) fn tensor_data(model: &mut Ct2File, t: &Planned) -> Result<Vec<u8>, ModelError> {
    let dtype = model.var(&t.src)?.dtype;
    if t.ty == GgmlType::F16 && dtype == Dtype::F16 {
        return Ok(model.raw_rows(&t.src, t.rows.clone())?.0);
    }
    let values = model.f32_rows(&t.src, t.rows.clone())?;
    Ok(match t.ty {
        GgmlType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlType::F16 => values
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect(),
        GgmlType::Quant(q) => {
            // Blocks run along a row (the last numpy axis); every whisper width is a multiple
            // of 32, but a custom model might not be.
            let row = t.shape.last().copied().unwrap_or(0);
            if row % BLOCK != 0 {
                return Err(ModelError::Unquantizable {
                    name: t.name.clone(),
                    row,
                });
            }
            let mut out = Vec::new();
            q.quantize(&values, &mut out);
            out
        }
    })
}

/// Writes one tensor record: dims, name length, type, `ne` (numpy shape reversed), name, data.
pub(crate) fn write_tensor(w: &mut impl Write, t: &Planned, data: &[u8]) -> std::io::Result<()> {
    w.write_all(&i32_of(t.shape.len()))?;
    w.write_all(&i32_of(t.name.len()))?;
    w.write_all(&t.ty.id().to_le_bytes())?;
    for d in t.shape.iter().rev() {
        w.write_all(&i32_of(*d))?;
    }
    w.write_all(t.name.as_bytes())?;
    w.write_all(data)
}

//! Round trip of a tiny synthetic CTranslate2 whisper model through the importer.

use std::collections::BTreeMap;
use std::path::Path;

use half::f16;

use super::*;

const D: usize = 8; // model width of the synthetic model
const VOCAB: &str = "!\nĠhi\næĪĳ\nab\nc\n<|endoftext|>\n<|startoftranscript|>\n<|en|>\n";
const N_VOCAB: usize = 8;

/// A CTranslate2 variable to write: shape, type code, raw bytes.
struct V(Vec<usize>, u8, Vec<u8>);

/// f16 data whose value at (row, col) is `base + row + col / 1000` (exact enough in f16 for
/// the small indexes used), so a split can be checked row by row.
fn f16_var(shape: &[usize], base: f32) -> V {
    let rows = shape.first().copied().unwrap_or(1);
    let cols: usize = shape.iter().skip(1).product();
    let mut data = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let v = base + r as f32 + (c % 8) as f32 / 8.0;
            data.extend_from_slice(&f16::from_f32(v).to_le_bytes());
        }
    }
    V(shape.to_vec(), 4, data)
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

fn ct2_bytes(spec: &str, vars: &BTreeMap<String, V>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&6u32.to_le_bytes());
    string(&mut out, spec);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(vars.len() as u32).to_le_bytes());
    for (name, V(shape, dtype, data)) in vars {
        string(&mut out, name);
        out.push(shape.len() as u8);
        for d in shape {
            out.extend_from_slice(&(*d as u32).to_le_bytes());
        }
        out.push(*dtype);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out.extend_from_slice(&1u32.to_le_bytes());
    string(&mut out, "decoder/projection/weight");
    string(&mut out, "decoder/embeddings/weight");
    out
}

fn linear(vars: &mut BTreeMap<String, V>, name: &str, rows: usize, cols: usize, base: f32) {
    vars.insert(format!("{name}/weight"), f16_var(&[rows, cols], base));
    vars.insert(format!("{name}/bias"), f16_var(&[rows], base + 0.5));
}

fn norm(vars: &mut BTreeMap<String, V>, name: &str) {
    vars.insert(format!("{name}/gamma"), f16_var(&[D], 1.0));
    vars.insert(format!("{name}/beta"), f16_var(&[D], 2.0));
}

/// The variables of a whisper model with width 8, 1 encoder and 2 decoder layers.
fn synthetic_vars() -> BTreeMap<String, V> {
    let mut v = BTreeMap::new();
    let scalar16 = |n: i16| V(vec![], 2, n.to_le_bytes().to_vec());
    v.insert("encoder/num_heads".into(), scalar16(2));
    v.insert("decoder/num_heads".into(), scalar16(2));
    v.insert("decoder/scale_embeddings".into(), V(vec![], 1, vec![0]));
    v.insert("encoder/conv1/weight".into(), f16_var(&[D, 80, 3], 0.0));
    v.insert("encoder/conv1/bias".into(), f16_var(&[D], 3.0));
    v.insert("encoder/conv2/weight".into(), f16_var(&[D, D, 3], 0.0));
    v.insert("encoder/conv2/bias".into(), f16_var(&[D], 4.0));
    v.insert(
        "encoder/position_encodings/encodings".into(),
        f16_var(&[10, D], 0.0),
    );
    v.insert(
        "decoder/position_encodings/encodings".into(),
        f16_var(&[6, D], 0.0),
    );
    v.insert(
        "decoder/embeddings/weight".into(),
        f16_var(&[N_VOCAB, D], 0.0),
    );
    norm(&mut v, "encoder/layer_norm");
    norm(&mut v, "decoder/layer_norm");
    let block = |v: &mut BTreeMap<String, V>, s: &str| {
        linear(v, &format!("{s}/self_attention/linear_0"), 3 * D, D, 100.0);
        linear(v, &format!("{s}/self_attention/linear_1"), D, D, 0.0);
        norm(v, &format!("{s}/self_attention/layer_norm"));
        linear(v, &format!("{s}/ffn/linear_0"), 4 * D, D, 0.0);
        linear(v, &format!("{s}/ffn/linear_1"), D, 4 * D, 0.0);
        norm(v, &format!("{s}/ffn/layer_norm"));
    };
    block(&mut v, "encoder/layer_0");
    for i in 0..2 {
        let s = format!("decoder/layer_{i}");
        block(&mut v, &s);
        linear(&mut v, &format!("{s}/attention/linear_0"), D, D, 0.0);
        linear(&mut v, &format!("{s}/attention/linear_1"), 2 * D, D, 200.0);
        linear(&mut v, &format!("{s}/attention/linear_2"), D, D, 0.0);
        norm(&mut v, &format!("{s}/attention/layer_norm"));
    }
    v
}

fn write_model(dir: &Path, vars: &BTreeMap<String, V>) {
    std::fs::write(dir.join("model.bin"), ct2_bytes("WhisperSpec", vars)).unwrap();
    std::fs::write(dir.join("vocabulary.txt"), VOCAB).unwrap();
    std::fs::write(dir.join("config.json"), r#"{"lang_ids": [1, 2, 3]}"#).unwrap();
}

/// A parsed ggml file: header ints, mel, vocabulary, tensors by name (type, ne, data).
struct Ggml {
    header: Vec<i32>,
    mel: (i32, i32, Vec<f32>),
    vocab: Vec<Vec<u8>>,
    tensors: BTreeMap<String, (i32, Vec<i32>, Vec<u8>)>,
}

fn parse_ggml(b: &[u8]) -> Ggml {
    let mut pos = 0;
    let i32_at = |pos: &mut usize| {
        let v = i32::from_le_bytes(b[*pos..*pos + 4].try_into().unwrap());
        *pos += 4;
        v
    };
    assert_eq!(i32_at(&mut pos) as u32, 0x6767_6d6c, "magic");
    let header: Vec<i32> = (0..11).map(|_| i32_at(&mut pos)).collect();
    let (n_mel, n_fft) = (i32_at(&mut pos), i32_at(&mut pos));
    let mel = (0..n_mel * n_fft)
        .map(|_| f32::from_bits(i32_at(&mut pos) as u32))
        .collect();
    let n = i32_at(&mut pos);
    let mut vocab = Vec::new();
    for _ in 0..n {
        let len = i32_at(&mut pos) as usize;
        vocab.push(b[pos..pos + len].to_vec());
        pos += len;
    }
    let mut tensors = BTreeMap::new();
    while pos < b.len() {
        let (n_dims, name_len, ty) = (i32_at(&mut pos), i32_at(&mut pos), i32_at(&mut pos));
        let ne: Vec<i32> = (0..n_dims).map(|_| i32_at(&mut pos)).collect();
        let name = String::from_utf8(b[pos..pos + name_len as usize].to_vec()).unwrap();
        pos += name_len as usize;
        let size = ne.iter().product::<i32>() as usize * if ty == 0 { 4 } else { 2 };
        tensors.insert(name, (ty, ne, b[pos..pos + size].to_vec()));
        pos += size;
    }
    Ggml {
        header,
        mel: (n_mel, n_fft, mel),
        vocab,
        tensors,
    }
}

fn f16s(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(2)
        .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect()
}

fn f32s(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn round_trip_header_vocab_names_shapes_and_splits() {
    let dir = tempfile::tempdir().unwrap();
    write_model(dir.path(), &synthetic_vars());
    let dst = dir.path().join("out/ggml-test.bin");
    let mut seen = Vec::new();
    let info = import_ct2(dir.path(), &dst, |p| seen.push(p)).unwrap();
    let g = parse_ggml(&std::fs::read(&dst).unwrap());

    // n_vocab, audio ctx/state/head/layer, text ctx/state/head/layer, n_mels, ftype f16.
    assert_eq!(g.header, vec![8, 10, 8, 2, 1, 6, 8, 2, 2, 80, 1]);
    assert_eq!(info.n_text_layer, 2, "layer_norm must not count as a layer");
    assert_eq!(info.languages, Some(3));
    assert_eq!(info.file_bytes, std::fs::metadata(&dst).unwrap().len());
    assert!(!info.multilingual());
    assert_eq!((g.mel.0, g.mel.1, g.mel.2.len()), (80, 201, 80 * 201));
    assert_eq!(
        g.vocab,
        vec![
            b"!".to_vec(),
            b" hi".to_vec(),
            "我".as_bytes().to_vec(),
            b"ab".to_vec(),
            b"c".to_vec()
        ]
    );

    // Per encoder block 15 tensors, per decoder block 15 + 9, plus 11 globals.
    assert_eq!(g.tensors.len(), 11 + 15 + 2 * 24);
    assert_eq!(info.tensors, g.tensors.len());
    assert_eq!(seen.last().map(|p| (p.done, p.total)), Some((74, 74)));
    assert!(!dir.path().join("out/ggml-test.bin.partial").exists());

    let t = |name: &str| {
        g.tensors
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    // ne is the numpy shape reversed; conv biases become (n, 1) f32.
    assert_eq!(t("encoder.conv1.weight").0, 1);
    assert_eq!(t("encoder.conv1.weight").1, vec![3, 80, 8]);
    assert_eq!(
        (t("encoder.conv1.bias").0, t("encoder.conv1.bias").1.clone()),
        (0, vec![1, 8])
    );
    assert_eq!(
        (
            t("encoder.positional_embedding").0,
            t("encoder.positional_embedding").1.clone()
        ),
        (0, vec![8, 10])
    );
    assert_eq!(
        (
            t("decoder.positional_embedding").0,
            t("decoder.positional_embedding").1.clone()
        ),
        (0, vec![8, 6])
    );
    assert_eq!(
        (
            t("decoder.token_embedding.weight").0,
            t("decoder.token_embedding.weight").1.clone()
        ),
        (1, vec![8, 8])
    );
    assert_eq!(t("decoder.blocks.1.mlp.0.weight").1, vec![8, 32]);
    assert_eq!(
        (t("decoder.ln.weight").0, t("decoder.ln.weight").1.clone()),
        (0, vec![8])
    );
    assert!(!g.tensors.contains_key("encoder.blocks.0.attn.key.bias"));
    assert!(!g
        .tensors
        .contains_key("decoder.blocks.0.cross_attn.key.bias"));

    // Fused QKV rows 0..8 / 8..16 / 16..24 (base 100 + row) land in query / key / value.
    for (name, first_row) in [("query", 0.0), ("key", 8.0), ("value", 16.0)] {
        let w = f16s(&t(&format!("encoder.blocks.0.attn.{name}.weight")).2);
        assert_eq!(w.len(), D * D);
        assert_eq!(w[0], 100.0 + first_row, "{name}");
        assert_eq!(w[D * D - 1], 100.0 + first_row + 7.0 + 7.0 / 8.0, "{name}");
    }
    let vb = f32s(&t("decoder.blocks.1.attn.value.bias").2);
    assert_eq!(vb[0], 100.5 + 16.0);
    let ck = f16s(&t("decoder.blocks.0.cross_attn.key.weight").2);
    let cv = f16s(&t("decoder.blocks.0.cross_attn.value.weight").2);
    assert_eq!((ck[0], cv[0]), (200.0, 208.0));
    assert_eq!(
        f32s(&t("decoder.blocks.0.cross_attn.value.bias").2)[0],
        208.5
    );
    assert_eq!(f32s(&t("encoder.blocks.0.attn_ln.weight").2)[0], 1.0);
    assert_eq!(f32s(&t("encoder.blocks.0.attn_ln.bias").2)[0], 2.0);
}

#[test]
fn int8_with_scale_is_dequantized_and_without_scale_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut vars = synthetic_vars();
    let name = "encoder/layer_0/ffn/linear_1/weight";
    // Row r holds q = r + 1 everywhere, with scale 2 for every row: w = (r + 1) / 2.
    let q: Vec<u8> = (0..D)
        .flat_map(|r| std::iter::repeat_n((r + 1) as u8, 4 * D))
        .collect();
    vars.insert(name.into(), V(vec![D, 4 * D], 1, q));
    write_model(dir.path(), &vars);
    let err = import_ct2(dir.path(), &dir.path().join("a.bin"), |_| {}).unwrap_err();
    assert!(matches!(err, ModelError::UnsupportedDtype { .. }), "{err}");
    assert!(err.to_string().contains("int8"), "{err}");
    assert!(!dir.path().join("a.bin").exists());
    assert!(!dir.path().join("a.bin.partial").exists());

    // A scale per row is needed; a scale vector of the wrong length is a shape error.
    let short: Vec<u8> = (0..3).flat_map(|_| 2.0f32.to_le_bytes()).collect();
    vars.insert(format!("{name}_scale"), V(vec![3], 0, short));
    write_model(dir.path(), &vars);
    let err = import_ct2(dir.path(), &dir.path().join("c.bin"), |_| {}).unwrap_err();
    assert!(matches!(err, ModelError::BadShape { .. }), "{err}");

    let scale: Vec<u8> = (0..D).flat_map(|_| 2.0f32.to_le_bytes()).collect();
    vars.insert(format!("{name}_scale"), V(vec![D], 0, scale));
    write_model(dir.path(), &vars);
    import_ct2(dir.path(), &dir.path().join("b.bin"), |_| {}).unwrap();
    let g = parse_ggml(&std::fs::read(dir.path().join("b.bin")).unwrap());
    let w = f16s(&g.tensors["encoder.blocks.0.mlp.2.weight"].2);
    assert_eq!((w[0], w[4 * D * 7]), (0.5, 4.0));
}

#[test]
fn errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let dst = p.join("out.bin");
    let e = import_ct2(p, &dst, |_| {}).unwrap_err();
    assert!(matches!(e, ModelError::MissingFile { .. }), "{e}");

    let vars = synthetic_vars();
    write_model(p, &vars);
    std::fs::remove_file(p.join("vocabulary.txt")).unwrap();
    let e = import_ct2(p, &dst, |_| {}).unwrap_err();
    assert!(e.to_string().contains("vocabulary.txt"), "{e}");

    write_model(p, &vars);
    std::fs::write(p.join("model.bin"), b"RIFF....WAVEfmt not a model at all").unwrap();
    let e = import_ct2(p, &dst, |_| {}).unwrap_err();
    assert!(matches!(e, ModelError::NotCt2 { .. }), "{e}");

    std::fs::write(p.join("model.bin"), ct2_bytes("TransformerSpec", &vars)).unwrap();
    let e = import_ct2(p, &dst, |_| {}).unwrap_err();
    assert!(matches!(e, ModelError::NotWhisper { .. }), "{e}");

    // Half of a split model: the file stops inside a variable.
    let full = ct2_bytes("WhisperSpec", &vars);
    std::fs::write(p.join("model.bin"), &full[..full.len() / 2]).unwrap();
    let e = import_ct2(p, &dst, |_| {}).unwrap_err();
    assert!(matches!(e, ModelError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("cat model.bin.part1"), "{e}");

    // A fused QKV with the wrong number of rows is a shape error, not a misread.
    let mut bad = synthetic_vars();
    bad.insert(
        "encoder/layer_0/self_attention/linear_0/weight".into(),
        f16_var(&[2 * D, D], 0.0),
    );
    write_model(p, &bad);
    let e = import_ct2(p, &dst, |_| {}).unwrap_err();
    assert!(matches!(e, ModelError::BadShape { .. }), "{e}");

    let mut missing = synthetic_vars();
    missing.remove("decoder/layer_1/attention/linear_2/bias");
    write_model(p, &missing);
    let e = import_ct2(p, &dst, |_| {}).unwrap_err();
    assert!(
        e.to_string()
            .contains("decoder/layer_1/attention/linear_2/bias"),
        "{e}"
    );
    assert!(!dst.exists());
}

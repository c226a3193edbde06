//! ONNX export: a graph builder that the layers write themselves into (each layer's `onnx`
//! method emits the same arithmetic as its `forward`), and the protobuf encoding of the model.
//!
//! The encoder is hand-written: the subset of `onnx.proto` a policy needs is nine messages and
//! protobuf's wire format is a few lines, while a protobuf crate would need `protoc` at build
//! time or a megabyte of generated schema. Models use opset 17 (IR version 8), which every
//! onnxruntime since 1.12 loads.

/// The ONNX operator set the graphs are written for.
pub const OPSET: i64 = 17;
/// The IR version of opset 17.
pub const IR_VERSION: i64 = 8;

/// Element types of graph inputs, outputs and initializers (`TensorProto.DataType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemType {
    F32 = 1,
    I64 = 7,
}

/// A dimension of a graph input or output: fixed, or symbolic (the batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Fixed(usize),
    Named(String),
}

impl Dim {
    /// The symbolic batch dimension.
    pub fn batch() -> Dim {
        Dim::Named("batch".to_string())
    }
}

/// A node attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
}

#[derive(Clone, Debug)]
struct Node {
    op: &'static str,
    name: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    attrs: Vec<(&'static str, Attr)>,
}

#[derive(Clone, Debug)]
enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

#[derive(Clone, Debug)]
struct Initializer {
    name: String,
    dims: Vec<usize>,
    data: Data,
}

#[derive(Clone, Debug)]
struct ValueInfo {
    name: String,
    elem: ElemType,
    dims: Vec<Dim>,
}

/// An ONNX graph under construction. Values are named by strings; every method that adds a
/// node returns the name of its output.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    name: String,
    nodes: Vec<Node>,
    initializers: Vec<Initializer>,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    metadata: Vec<(String, String)>,
    next_id: usize,
}

impl Graph {
    pub fn new(name: &str) -> Graph {
        Graph {
            name: name.to_string(),
            ..Graph::default()
        }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.next_id += 1;
        format!("{hint}_{}", self.next_id)
    }

    /// A float32 graph input.
    pub fn input(&mut self, name: &str, dims: Vec<Dim>) -> String {
        self.inputs.push(ValueInfo {
            name: name.to_string(),
            elem: ElemType::F32,
            dims,
        });
        name.to_string()
    }

    /// Exposes `value` as the graph output `name` (through an `Identity` node, so that any
    /// value, also an input or a constant, can be an output).
    pub fn output(&mut self, value: &str, name: &str, elem: ElemType, dims: Vec<Dim>) {
        self.nodes.push(Node {
            op: "Identity",
            name: format!("output_{name}"),
            inputs: vec![value.to_string()],
            outputs: vec![name.to_string()],
            attrs: Vec::new(),
        });
        self.outputs.push(ValueInfo {
            name: name.to_string(),
            elem,
            dims,
        });
    }

    /// A float32 constant tensor (an initializer).
    pub fn constant(&mut self, hint: &str, dims: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let name = self.fresh(hint);
        self.initializers.push(Initializer {
            name: name.clone(),
            dims: dims.to_vec(),
            data: Data::F32(data.to_vec()),
        });
        name
    }

    /// An int64 constant tensor (shapes, indices).
    pub fn constant_i64(&mut self, hint: &str, dims: &[usize], data: &[i64]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let name = self.fresh(hint);
        self.initializers.push(Initializer {
            name: name.clone(),
            dims: dims.to_vec(),
            data: Data::I64(data.to_vec()),
        });
        name
    }

    /// A node with one output.
    pub fn op(
        &mut self,
        op: &'static str,
        inputs: &[&str],
        attrs: Vec<(&'static str, Attr)>,
    ) -> String {
        self.op_n(op, inputs, 1, attrs).remove(0)
    }

    /// A node with `n` outputs (`Split`).
    pub fn op_n(
        &mut self,
        op: &'static str,
        inputs: &[&str],
        n: usize,
        attrs: Vec<(&'static str, Attr)>,
    ) -> Vec<String> {
        let base = self.fresh(&op.to_ascii_lowercase());
        let outputs: Vec<String> = (0..n).map(|i| format!("{base}_out{i}")).collect();
        self.nodes.push(Node {
            op,
            name: base,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.clone(),
            attrs,
        });
        outputs
    }

    /// `x W^T + b` for a row-major `[out, in]` weight (PyTorch's layout and engram's).
    pub fn linear(&mut self, x: &str, weight: &[f32], bias: Option<&[f32]>, out: usize) -> String {
        let input = weight.len() / out.max(1);
        let w = self.constant("weight", &[out, input], weight);
        let trans_b = vec![("transB", Attr::Int(1))];
        match bias {
            Some(b) => {
                let b = self.constant("bias", &[out], b);
                self.op("Gemm", &[x, &w, &b], trans_b)
            }
            None => self.op("Gemm", &[x, &w], trans_b),
        }
    }

    /// Columns `start..end` of a `[batch, n]` value.
    pub fn columns(&mut self, x: &str, start: usize, end: usize) -> String {
        let starts = self.constant_i64("starts", &[1], &[start as i64]);
        let ends = self.constant_i64("ends", &[1], &[end as i64]);
        let axes = self.constant_i64("axes", &[1], &[1]);
        self.op("Slice", &[x, &starts, &ends, &axes], Vec::new())
    }

    /// Concatenation along the columns (axis 1); one part is passed through.
    pub fn concat_columns(&mut self, parts: &[String]) -> String {
        if parts.len() == 1 {
            return parts[0].clone();
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.op("Concat", &refs, vec![("axis", Attr::Int(1))])
    }

    /// A free-form `metadata_props` entry of the model.
    pub fn metadata(&mut self, key: &str, value: &str) {
        self.metadata.push((key.to_string(), value.to_string()));
    }

    /// Names of the graph outputs, in order.
    pub fn output_names(&self) -> Vec<&str> {
        self.outputs.iter().map(|o| o.name.as_str()).collect()
    }

    /// The serialised `ModelProto`.
    pub fn to_model_bytes(&self, producer: &str, producer_version: &str) -> Vec<u8> {
        let mut graph = Vec::new();
        for node in &self.nodes {
            message(&mut graph, 1, &node_proto(node));
        }
        string(&mut graph, 2, &self.name);
        for init in &self.initializers {
            message(&mut graph, 5, &tensor_proto(init));
        }
        for input in &self.inputs {
            message(&mut graph, 11, &value_info_proto(input));
        }
        for output in &self.outputs {
            message(&mut graph, 12, &value_info_proto(output));
        }
        let mut model = Vec::new();
        int(&mut model, 1, IR_VERSION);
        string(&mut model, 2, producer);
        string(&mut model, 3, producer_version);
        message(&mut model, 7, &graph);
        let mut opset = Vec::new();
        string(&mut opset, 1, "");
        int(&mut opset, 2, OPSET);
        message(&mut model, 8, &opset);
        for (key, value) in &self.metadata {
            let mut entry = Vec::new();
            string(&mut entry, 1, key);
            string(&mut entry, 2, value);
            message(&mut model, 14, &entry);
        }
        model
    }
}

// --- protobuf wire format ----------------------------------------------------------------------

const VARINT: u32 = 0;
const FIXED32: u32 = 5;
const LENGTH_DELIMITED: u32 = 2;

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    varint(buf, u64::from((field << 3) | wire));
}

/// An `int32`/`int64`/enum field (negative values as ten-byte two's complement, as protobuf does).
fn int(buf: &mut Vec<u8>, field: u32, v: i64) {
    key(buf, field, VARINT);
    varint(buf, v as u64);
}

fn float(buf: &mut Vec<u8>, field: u32, v: f32) {
    key(buf, field, FIXED32);
    buf.extend_from_slice(&v.to_le_bytes());
}

fn bytes(buf: &mut Vec<u8>, field: u32, data: &[u8]) {
    key(buf, field, LENGTH_DELIMITED);
    varint(buf, data.len() as u64);
    buf.extend_from_slice(data);
}

fn string(buf: &mut Vec<u8>, field: u32, s: &str) {
    bytes(buf, field, s.as_bytes());
}

fn message(buf: &mut Vec<u8>, field: u32, encoded: &[u8]) {
    bytes(buf, field, encoded);
}

fn node_proto(node: &Node) -> Vec<u8> {
    let mut buf = Vec::new();
    for input in &node.inputs {
        string(&mut buf, 1, input);
    }
    for output in &node.outputs {
        string(&mut buf, 2, output);
    }
    string(&mut buf, 3, &node.name);
    string(&mut buf, 4, node.op);
    for (name, attr) in &node.attrs {
        let mut a = Vec::new();
        string(&mut a, 1, name);
        // AttributeProto.type: FLOAT 1, INT 2, INTS 7.
        match attr {
            Attr::Float(f) => {
                float(&mut a, 2, *f);
                int(&mut a, 20, 1);
            }
            Attr::Int(i) => {
                int(&mut a, 3, *i);
                int(&mut a, 20, 2);
            }
            Attr::Ints(values) => {
                for v in values {
                    int(&mut a, 8, *v);
                }
                int(&mut a, 20, 7);
            }
        }
        message(&mut buf, 5, &a);
    }
    buf
}

fn tensor_proto(init: &Initializer) -> Vec<u8> {
    let mut buf = Vec::new();
    for &d in &init.dims {
        int(&mut buf, 1, d as i64);
    }
    let (elem, raw): (ElemType, Vec<u8>) = match &init.data {
        Data::F32(v) => (
            ElemType::F32,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        Data::I64(v) => (
            ElemType::I64,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    };
    int(&mut buf, 2, elem as i64);
    string(&mut buf, 8, &init.name);
    bytes(&mut buf, 9, &raw);
    buf
}

fn value_info_proto(info: &ValueInfo) -> Vec<u8> {
    let mut shape = Vec::new();
    for dim in &info.dims {
        let mut d = Vec::new();
        match dim {
            Dim::Fixed(n) => int(&mut d, 1, *n as i64),
            Dim::Named(name) => string(&mut d, 2, name),
        }
        message(&mut shape, 1, &d);
    }
    let mut tensor = Vec::new();
    int(&mut tensor, 1, info.elem as i64);
    message(&mut tensor, 2, &shape);
    let mut type_proto = Vec::new();
    message(&mut type_proto, 1, &tensor);
    let mut buf = Vec::new();
    string(&mut buf, 1, &info.name);
    message(&mut buf, 2, &type_proto);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_encoding() {
        let mut buf = Vec::new();
        varint(&mut buf, 1);
        varint(&mut buf, 300);
        assert_eq!(buf, [0x01, 0xAC, 0x02]);
        let mut neg = Vec::new();
        int(&mut neg, 3, -1);
        // key (3 << 3 | 0) then ten bytes of two's complement.
        assert_eq!(neg.len(), 11);
        assert_eq!(neg[0], 0x18);
        assert_eq!(neg[10], 0x01);
    }

    #[test]
    fn a_graph_serialises_its_parts_in_order() {
        let mut g = Graph::new("g");
        let x = g.input("obs", vec![Dim::batch(), Dim::Fixed(2)]);
        let y = g.linear(&x, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], Some(&[0.5; 3]), 3);
        let y = g.op("Relu", &[&y], Vec::new());
        g.output(&y, "out", ElemType::F32, vec![Dim::batch(), Dim::Fixed(3)]);
        g.metadata("k", "v");
        let bytes = g.to_model_bytes("engram", "0");
        // ir_version first, then the producer name.
        assert_eq!(&bytes[..2], &[0x08, IR_VERSION as u8]);
        assert_eq!(&bytes[2..4], &[0x12, 6]);
        assert_eq!(&bytes[4..10], b"engram");
        let text = String::from_utf8_lossy(&bytes);
        for needle in ["Gemm", "Relu", "Identity", "transB", "obs", "out", "batch"] {
            assert!(text.contains(needle), "{needle} missing");
        }
        assert_eq!(g.output_names(), ["out"]);
    }
}

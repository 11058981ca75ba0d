"""A tiny but real TFLite classifier, written with the LiteRT flatbuffer schema.

No licensed fire/smoke model exists, so the operator-model path is tested with this one: it
averages the image's RGB (MEAN), maps it to two logits (FULLY_CONNECTED) and normalizes them
(SOFTMAX), giving `fire` for reddish images and `other` for bluish ones. The LiteRT interpreter
runs it like any downloaded model.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as tfl


def _buffer(data: np.ndarray | None = None) -> tfl.BufferT:
    b = tfl.BufferT()
    b.data = None if data is None else np.frombuffer(data.tobytes(), dtype=np.uint8)
    return b


def _tensor(name: str, shape: list[int], buffer: int, ttype: int = tfl.TensorType.FLOAT32) -> tfl.TensorT:
    t = tfl.TensorT()
    t.name, t.shape, t.buffer, t.type = name, np.array(shape, np.int32), buffer, ttype
    return t


def _opcode(code: int) -> tfl.OperatorCodeT:
    c = tfl.OperatorCodeT()
    c.builtinCode, c.deprecatedBuiltinCode, c.version = code, code, 1
    return c


def _op(index: int, inputs: list[int], outputs: list[int], opt_type: int, options: object) -> tfl.OperatorT:
    o = tfl.OperatorT()
    o.opcodeIndex, o.inputs, o.outputs = index, np.array(inputs, np.int32), np.array(outputs, np.int32)
    o.builtinOptionsType, o.builtinOptions = opt_type, options
    return o


def write_colour_classifier(path: Path, size: int = 16) -> Path:
    """Write the classifier (float32 input [1,size,size,3], output [1,2] probabilities)."""
    weights = np.array([[4.0, 0.0, -4.0], [-4.0, 0.0, 4.0]], np.float32)
    bias = np.zeros(2, np.float32)
    axes = np.array([1, 2], np.int32)
    model = tfl.ModelT()
    model.version = 3
    model.description = "tiny colour classifier (tests)"
    model.buffers = [_buffer(), _buffer(), _buffer(axes), _buffer(), _buffer(weights), _buffer(bias), _buffer(), _buffer()]
    g = tfl.SubGraphT()
    g.name = "main"
    g.tensors = [
        _tensor("image", [1, size, size, 3], 1),
        _tensor("axes", [2], 2, tfl.TensorType.INT32),
        _tensor("mean", [1, 3], 3),
        _tensor("weights", [2, 3], 4),
        _tensor("bias", [2], 5),
        _tensor("logits", [1, 2], 6),
        _tensor("probabilities", [1, 2], 7),
    ]
    g.inputs, g.outputs = np.array([0], np.int32), np.array([6], np.int32)
    reducer = tfl.ReducerOptionsT()
    reducer.keepDims = False
    softmax = tfl.SoftmaxOptionsT()
    softmax.beta = 1.0
    g.operators = [
        _op(0, [0, 1], [2], tfl.BuiltinOptions.ReducerOptions, reducer),
        _op(1, [2, 3, 4], [5], tfl.BuiltinOptions.FullyConnectedOptions, tfl.FullyConnectedOptionsT()),
        _op(2, [5], [6], tfl.BuiltinOptions.SoftmaxOptions, softmax),
    ]
    model.subgraphs = [g]
    model.operatorCodes = [
        _opcode(tfl.BuiltinOperator.MEAN),
        _opcode(tfl.BuiltinOperator.FULLY_CONNECTED),
        _opcode(tfl.BuiltinOperator.SOFTMAX),
    ]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path

